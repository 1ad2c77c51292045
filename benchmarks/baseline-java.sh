#!/usr/bin/env bash
# Runs a main class on an earlier, already built checkout of this project (the "baseline", for before/after
# benchmarks), with this checkout's benchmark sources that only use API both builds have compiled against it.
#
# Usage: MTP_BASELINE_DIR=/path/to/old/checkout benchmarks/baseline-java.sh MAIN_CLASS [args...]
#   MTP_BASELINE_DIR  the baseline checkout (default /work/old-build), built (core/target/classes and
#                     spark-jobs/target/classes present; `mvn -DskipTests compile` there if not)
#   MAIN_CLASS        e.g. dev.mtpspark.bench.StepServer or dev.mtpspark.bench.GenerationBenchmark (compiled from
#                     this checkout's benchmarks/java sources, see BASELINE_SOURCES below), or one of the
#                     baseline's own classes (e.g. dev.mtpspark.spark.bench.StepServer of releases before the
#                     benchmarks/java module)
#
# Why not the baseline's own bin/mtp-local: on first use it runs `mvn install`, which would replace the
# 0.1.0-SNAPSHOT jars in ~/.m2 that *this* checkout's bin/mtp-local class path uses (both builds have the
# same version), so later "new" measurements would silently run the old code. This script installs nothing:
# it resolves the baseline's third-party class path with `mvn dependency:build-classpath` (read only), drops
# the project's own jars from it, and puts the baseline's target/classes directories first.
# Generated files (class path, compiled classes) go to target/baseline-java/ of this checkout, never committed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
base="$(cd "${MTP_BASELINE_DIR:-/work/old-build}" && pwd)"
[ $# -ge 1 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
main="$1"; shift
for d in core/target/classes spark-jobs/target/classes; do
  [ -d "$base/$d" ] || { echo "baseline $base is not built ($d missing): run 'mvn -B -q -DskipTests compile' there" >&2; exit 1; }
done
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"   # as bin/mtp-local does

key="$(printf '%s' "$base" | cksum | cut -d' ' -f1)"
cache="$here/target/baseline-java/$key"
mkdir -p "$cache"
if [ ! -s "$cache/classpath" ] || [ -n "$(find "$base/pom.xml" "$base/core/pom.xml" "$base/spark-jobs/pom.xml" -newer "$cache/classpath" -print -quit)" ]; then
  echo "resolving the baseline's class path ($base)…" >&2
  (cd "$base" && mvn -B -q -pl spark-jobs dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile="$cache/classpath.all" >&2)
  # The project's own modules come from the baseline's target/classes, not from ~/.m2.
  tr ':' '\n' < "$cache/classpath.all" | grep -v '/dev/mtpspark/' | paste -sd: - > "$cache/classpath"
  (cd "$base" && mvn -B -q help:evaluate -Dexpression=java17.opens -DforceStdout -Dstyle.color=never 2>/dev/null) \
    | sed "s/\x1b\[[0-9;]*m//g" > "$cache/jvm-flags"
  printf '%s\n' "$base" > "$cache/baseline-dir"
fi
deps="$base/spark-jobs/target/classes:$base/core/target/classes:$(cat "$cache/classpath")"

# This checkout's benchmark classes that compile against either build (they use only API both have).
src="$here/benchmarks/java/src/main/java/dev/mtpspark/bench"
BASELINE_SOURCES=("$src/Bench.java" "$src/StepServer.java" "$src/GenerationBenchmark.java")
classes="$cache/bench-classes"
stamp="$classes/.compiled"
if [ ! -f "$stamp" ] || [ -n "$(find "${BASELINE_SOURCES[@]}" "$base/core/target/classes" -newer "$stamp" -print -quit)" ]; then
  echo "compiling ${#BASELINE_SOURCES[@]} benchmark sources against the baseline…" >&2
  rm -rf "$classes" "$cache/bench-src"; mkdir -p "$classes" "$cache/bench-src"
  # NpzExport moved from core.model to core.export (issue 15's layout); a baseline from before has it in model.
  moved=()
  if [ -f "$base/core/target/classes/dev/mtpspark/core/model/NpzExport.class" ]; then
    moved=(-e 's/dev\.mtpspark\.core\.export\.NpzExport/dev.mtpspark.core.model.NpzExport/g')
  fi
  for f in "${BASELINE_SOURCES[@]}"; do
    if [ ${#moved[@]} -gt 0 ]; then sed "${moved[@]}" "$f"; else cat "$f"; fi > "$cache/bench-src/$(basename "$f")"
  done
  javac -nowarn -encoding UTF-8 --release 17 -cp "$deps" -d "$classes" "$cache"/bench-src/*.java
  touch "$stamp"
fi

# shellcheck disable=SC2046
exec java ${MTP_JAVA_OPTS:--Xmx4g} $(cat "$cache/jvm-flags") \
  -Dlog4j2.configurationFile="$base/spark-jobs/src/main/resources/mtp-log4j2.properties" \
  -cp "$classes:$deps" "$main" "$@"

#!/usr/bin/env bash
# Tokenization throughput benchmark: tokenizers on one thread (MB/s per core) and the whole Spark job.
# Usage: benchmarks/tokenize.sh [megabytes=32]   → prints figures, writes benchmarks/results/tokenize.json
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-32}"
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.passthrough=false"
mvn -B -q -DskipTests install
CP_FILE=$(mktemp)
# The benchmark module (benchmarks/java) and its dependencies: spark-jobs, core and Spark (test scope has it).
mvn -B -q -pl benchmarks/java dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE"
OPENS=$(mvn -B -q help:evaluate -Dexpression=java17.opens -DforceStdout -Dstyle.color=never | sed "s/\x1b\[[0-9;]*m//g")
# shellcheck disable=SC2086
java -Xmx6g $OPENS -cp "spark-jobs/target/classes:benchmarks/java/target/classes:$(cat "$CP_FILE")" \
  dev.mtpspark.bench.TokenizeBenchmark ../shared/corpora/tinyshakespeare.txt benchmarks/results/tokenize.json "$MB"
rm -f "$CP_FILE"

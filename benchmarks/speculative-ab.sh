#!/usr/bin/env bash
# Before/after of a change to core's decoding classes, interleaved in one run (issue 16): SpeculativeBenchmark on a
# model that benchmarks/speculative.sh trained (target/runs/<model>), with the given core source files as they were
# at COMMIT compiled and put first on the class path ("before"), and with this checkout's build ("after"),
# alternately, ROUNDS times. Same prompts, tokens and threads as speculative.sh.
# Usage: benchmarks/speculative-ab.sh COMMIT OUT FILE…     e.g.
#   benchmarks/speculative-ab.sh e122618~1 benchmarks/results/x.json core/src/main/java/dev/mtpspark/core/model/{Decoder,TransformerBlock}.java
#   MTP_SPEC_MODELS (default jdk-bytes-n4), MTP_SPEC_PROMPTS (20), MTP_SPEC_TOKENS (500), MTP_SPEC_THREADS (1), ROUNDS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$1"; out="$2"; shift 2
models="${MTP_SPEC_MODELS:-jdk-bytes-n4}"
rounds="${ROUNDS:-3}"
threads="${MTP_SPEC_THREADS:-1}"
bin/mtp-local --help > /dev/null 2>&1 || true          # builds this checkout where sources changed
cp="spark-jobs/target/classes:benchmarks/java/target/classes:$(cat spark-jobs/target/mtp-local/bench-classpath)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/classes"
for f in "$@"; do git show "$commit:$f" > "$work/src/$(basename "$f")"; done
javac -nowarn -d "$work/classes" -cp "$cp" "$work"/src/*.java
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OMP_WAIT_POLICY=passive
results=()
for round in $(seq "$rounds"); do
  for m in $models; do
    corpus=target/corpora/jdk-src.txt
    [[ "$m" == shakespeare-* ]] && corpus=../shared/corpora/tinyshakespeare.txt
    [ -d "target/runs/$m/checkpoints" ] || { echo "error: target/runs/$m has no checkpoint; run benchmarks/speculative.sh first" >&2; exit 2; }
    for build in before after; do
      pre=""; [ "$build" = before ] && pre="$work/classes:"
      java -Xmx4g $(cat spark-jobs/target/mtp-local/jvm-flags) \
        -Dlog4j2.configurationFile=spark-jobs/src/main/resources/mtp-log4j2.properties -cp "$pre$cp" \
        dev.mtpspark.bench.SpeculativeBenchmark --checkpoint "target/runs/$m" --corpus "$corpus" --label "$m $build" \
        --prompts "${MTP_SPEC_PROMPTS:-20}" --tokens "${MTP_SPEC_TOKENS:-500}" --out "$work/$m-$build-$round.json" > "$work/log" 2>&1 \
        || { cat "$work/log" >&2; exit 1; }
      results+=("$round:$build:$work/$m-$build-$round.json")
    done
  done
done
python3 - "$out" "benchmarks/speculative-ab.sh $commit $out $*" "${results[@]}" <<'PY'
import json, sys, datetime, subprocess
out, command, items = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = []
for it in items:
    r, build, path = it.split(":", 2)
    d = json.load(open(path)); d["round"] = int(r); d["build"] = build
    runs.append(d)
    modes = " ".join(f"k={m['k']}: {m['tokens_per_second']:.0f} tok/s ({m['speedup']:.2f}x)" for m in d.get("speculative", []))
    print(f"  round {r} {d['label']:<24} plain {d['plain_tokens_per_second']:.0f} tok/s  {modes}")
doc = {"benchmark": "speculative decoding before/after, interleaved (benchmarks/speculative-ab.sh)", "command": command,
       "date": datetime.datetime.utcnow().isoformat() + "Z",
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "load_average_at_start": open("/proc/loadavg").read().strip(), "runs": runs}
json.dump(doc, open(out, "w"), indent=2)
print("written " + out)
PY

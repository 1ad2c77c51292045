#!/usr/bin/env bash
# Reproduces nanoGPT's shakespeare-char CPU recipe with n = 1, 2 and 4 predicted tokens (conf/shakespeare-char.yaml)
# and writes the final per-horizon validation figures, wall time and tokens/s to
# benchmarks/results/shakespeare-char.json. Usage: benchmarks/shakespeare-char.sh [n ...]   (default: 1 2 4)
# Runs from a private copy of the build, so that rebuilding the project meanwhile cannot disturb a long run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
corpus="${MTP_CORPUS:-$root/../shared/corpora/tinyshakespeare.txt}"
[ -f "$corpus" ] || { echo "corpus $corpus not found (set MTP_CORPUS)" >&2; exit 2; }
bin/mtp-local --help >/dev/null                      # builds on first use
cache="$root/spark-jobs/target/mtp-local"
snap="$root/target/bench/snapshot-$$"
mkdir -p "$snap" benchmarks/results
cp -r spark-jobs/target/classes "$snap/classes"
cp="$snap/classes"
IFS=: read -ra entries < "$cache/classpath" || true   # the file has no final newline
for e in "${entries[@]}"; do
  case "$e" in
    *mtp-spark-core*) cp "$e" "$snap/"; cp="$cp:$snap/$(basename "$e")" ;;
    *) cp="$cp:$e" ;;
  esac
done
run() {
  # shellcheck disable=SC2046
  java ${MTP_JAVA_OPTS:--Xmx6g} $(cat "$cache/jvm-flags") \
    -Dlog4j2.configurationFile="$root/spark-jobs/src/main/resources/mtp-log4j2.properties" \
    -cp "$cp" dev.mtpspark.spark.MtpCli "$@"
}
out=benchmarks/results/shakespeare-char.json
part="$snap/results.json"
echo "[" > "$part"
first=1
for n in "${@:-1 2 4}"; do
  for n1 in $n; do
    ds="target/datasets/shakespeare-char-n$n1"
    [ -f "$ds/manifest.json" ] || run tokenize --input "$corpus" --tokenizer char --context-length 64 \
        --predicted-tokens "$n1" --output "$ds" --overwrite
    start=$(date +%s)
    run train --config conf/shakespeare-char.yaml --overwrite --set model.predicted-tokens="$n1" \
        --set data.dataset="$ds" --set run.output="target/runs/shakespeare-char-n$n1" 2>&1 \
        | tee "target/runs-shakespeare-char-n$n1.log"
    wall=$(( $(date +%s) - start ))
    python3 - "$n1" "$wall" "target/runs/shakespeare-char-n$n1/metrics.jsonl" >> "$part" <<'PY'
import json, sys
n, wall, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rows = [json.loads(l) for l in open(path)]
val = [r for r in rows if r["split"] == "validation"][-1]
train = [r for r in rows if r["split"] == "train"]
res = {"n": n, "steps": val["step"], "tokens_seen": val["tokens_seen"], "job_wall_s": wall,
       "train_s": val["elapsed_s"], "tokens_per_s": round(val["tokens_seen"] / val["elapsed_s"], 1),
       "validation": {f"h{k}": {"loss": round(val[f"loss/h{k}"], 4), "acc": round(val[f"acc/h{k}"], 4),
                               "top5": round(val[f"top5/h{k}"], 4)} for k in range(1, n + 1)}}
print(json.dumps(res) + ",")
PY
  done
done
sed -i '$ s/,$//' "$part"; echo "]" >> "$part"; mv "$part" "$out"
rm -rf "$snap"
echo "results: $out"; cat "$out"

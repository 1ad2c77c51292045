#!/usr/bin/env bash
# Self-speculative decoding (issue 16): plain KV-cached greedy decoding against greedy speculative decoding with
# k = 2..n drafting heads, in one process per model (SpeculativeBenchmark, module benchmarks/java), on trained
# models: the shakespeare-char n = 4 recipe (conf/shakespeare-char.yaml) and byte-level code models with n = 4 and
# n = 8 on the JDK's own Java sources (conf/jdk-bytes.yaml; Debian's openjdk-17-source package, fetched at run time
# with apt-get download, never committed). Datasets and models are built on first use under target/ and reused.
# Usage: benchmarks/speculative.sh
#   MTP_SPEC_MODELS   default "shakespeare-char-n4 jdk-bytes-n4 jdk-bytes-n8"
#   MTP_SPEC_PROMPTS  prompts per model (default 20), cut at random (seed 7) from the corpus text
#   MTP_SPEC_TOKENS   new tokens per prompt (default 500)
#   MTP_SPEC_THREADS  OMP/OpenBLAS threads (default 1)
#   MTP_SPEC_OUT      the result file (default benchmarks/results/speculative.json)
#   → prints one table per model, writes the JSON (per model: plain tokens/s, and per k: tokens/s, speed-up, tokens
#     per forward, speed-up ÷ tokens per forward, acceptance by head; and whether every output equalled plain greedy)
set -euo pipefail
cd "$(dirname "$0")/.."
models="${MTP_SPEC_MODELS:-shakespeare-char-n4 jdk-bytes-n4 jdk-bytes-n8}"
prompts="${MTP_SPEC_PROMPTS:-20}"
tokens="${MTP_SPEC_TOKENS:-500}"
threads="${MTP_SPEC_THREADS:-1}"
out="${MTP_SPEC_OUT:-benchmarks/results/speculative.json}"
work=target/speculative
mkdir -p "$work" target/corpora target/datasets target/runs

model() {   # name → trains it unless its run directory has a checkpoint; prints "run-dir corpus-text"
  local name="$1" n="${1##*-n}"
  case "$name" in
    shakespeare-char-n*)
      [ -d "target/datasets/$name" ] || bin/mtp-local tokenize --input ../shared/corpora/tinyshakespeare.txt \
        --tokenizer char --context-length 64 --predicted-tokens "$n" --output "target/datasets/$name" >&2
      [ -d "target/runs/$name/checkpoints" ] || bin/mtp-local train --config conf/shakespeare-char.yaml --overwrite \
        --set model.predicted-tokens="$n" --set data.dataset="target/datasets/$name" --set run.output="target/runs/$name" >&2
      echo "target/runs/$name ../shared/corpora/tinyshakespeare.txt" ;;
    jdk-bytes-n*)
      benchmarks/corpora.sh jdk-src
      [ -d "target/datasets/$name" ] || bin/mtp-local tokenize --input target/corpora/jdk-src --tokenizer byte \
        --context-length 128 --predicted-tokens "$n" --output "target/datasets/$name" >&2
      [ -d "target/runs/$name/checkpoints" ] || bin/mtp-local train --config conf/jdk-bytes.yaml --overwrite \
        --set model.predicted-tokens="$n" --set data.dataset="target/datasets/$name" --set run.output="target/runs/$name" >&2
      echo "target/runs/$name target/corpora/jdk-src.txt" ;;
    *) echo "unknown model $name (shakespeare-char-n<N>, jdk-bytes-n<N>)" >&2; exit 2 ;;
  esac
}

export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
load="$(cat /proc/loadavg)"
results=()
for m in $models; do
  read -r run corpus < <(model "$m")
  MTP_MAIN_CLASS=dev.mtpspark.bench.SpeculativeBenchmark bin/mtp-local --checkpoint "$run" --corpus "$corpus" \
    --label "$m" --prompts "$prompts" --tokens "$tokens" --out "$work/$m.json"
  results+=("$work/$m.json")
done
python3 - "$out" "benchmarks/speculative.sh (MTP_SPEC_MODELS='$models' MTP_SPEC_PROMPTS=$prompts MTP_SPEC_TOKENS=$tokens MTP_SPEC_THREADS=$threads)" "$load" "${results[@]}" <<'PY'
import json, sys, datetime, subprocess
out, command, load, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
doc = {"command": command, "date": datetime.datetime.utcnow().isoformat() + "Z",
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "load_average_at_start": load, "models": [json.load(open(f)) for f in files]}
json.dump(doc, open(out, "w"), indent=2)
print("written", out)
PY

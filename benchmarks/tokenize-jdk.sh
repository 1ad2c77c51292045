#!/usr/bin/env bash
# Corpus pipeline at scale (issue 18): the JDK's own Java sources (Debian's openjdk-17-source, lib/src.zip, every
# module: about 15,000 files, 200 MB; fetched at run time with apt-get download, never committed). Measures
#   1. BPE training on one machine (BpeTrainingBenchmark): the pre-token count (one thread) and the merges for
#      vocabularies of 4,096 and 32,000;
#   2. the whole tokenize job (bin/mtp-local) for byte, char, bpe (trained to 32,000 by the job), bpe with that
#      tokenizer.json (no training) and huggingface (the same file through DJL), T = 1024, n = 4, on Spark local[1]
#      and local[<cores>]: the process's wall time, MB/s and MB/s per core, the tokenization pass's MB/s per core
#      over its tasks' run time (the progress line's), and the local[1] / local[<cores>] time ratio.
# Usage: benchmarks/tokenize-jdk.sh     → prints the figures, writes benchmarks/results/tokenize-jdk.json
#   MTP_TOKENIZE_JOBS  the jobs to run (default "byte char bpe bpe-reuse huggingface"); bpe-reuse and huggingface
#                      need the tokenizer.json of an earlier bpe job; without bpe in the list, the BPE training
#                      measurement of an earlier run is reused when there is one
#   MTP_TOKENIZE_OUT   the result file (default benchmarks/results/tokenize-jdk.json, or tokenize-<corpus>.json)
#   MTP_TOKENIZE_CORPUS  the corpus (benchmarks/corpora.sh): jdk-all (default), jdk-all-x3, linux-src (1.3 GB) or
#                      linux-src-x3 (4 GB);
#                      datasets and logs go to target/tokenize-jdk for jdk-all, target/tokenize-<corpus> otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${MTP_TOKENIZE_CORPUS:-jdk-all}"
dir="target/corpora/$corpus"
benchmarks/corpora.sh "$corpus"
work=target/tokenize-jdk
[ "$corpus" = jdk-all ] || work="target/tokenize-$corpus"
mkdir -p "$work"
toks="${MTP_TOKENIZE_JOBS:-byte char bpe bpe-reuse huggingface}"
default_out=benchmarks/results/tokenize-jdk.json
[ "$corpus" = jdk-all ] || default_out="benchmarks/results/tokenize-$corpus.json"
out="${MTP_TOKENIZE_OUT:-$default_out}"
if [[ " $toks " == *" bpe "* ]]; then
  MTP_MAIN_CLASS=dev.mtpspark.bench.BpeTrainingBenchmark bin/mtp-local "$dir" "$work/bpe-training.json" 4096,32000
fi
if [[ " $toks " == *" bpe-reuse "* || " $toks " == *" huggingface "* ]] && [[ " $toks " != *" bpe "* ]] \
    && [ ! -f "$work/dataset-bpe/tokenizer.json" ]; then
  echo "error: bpe-reuse and huggingface need $work/dataset-bpe/tokenizer.json; add bpe to MTP_TOKENIZE_JOBS" >&2
  exit 2
fi
cores="$(nproc)"
jobs=()
# tok: byte, char, bpe (trains 32,000 then encodes), bpe-reuse (the trained tokenizer.json, our Java encoder),
# huggingface (the same tokenizer.json through DJL / the Rust library).
for workers in 1 "$cores"; do
  for tok in $toks; do
    case "$tok" in
      bpe) args=(--tokenizer bpe --bpe-vocab-size 32000) ;;
      bpe-reuse) args=(--tokenizer bpe --tokenizer-file "$work/dataset-bpe/tokenizer.json") ;;
      huggingface) args=(--tokenizer huggingface --tokenizer-file "$work/dataset-bpe/tokenizer.json"
                         --eos-token "<|endoftext|>") ;;
      *) args=(--tokenizer "$tok") ;;
    esac
    log="$work/job-$tok-$workers.log"
    start=$(date +%s.%N)
    MTP_JAVA_OPTS="-Xmx4g -Dspark.master=local[$workers]" bin/mtp-local tokenize --input "$dir" "${args[@]}" \
      --context-length 1024 --predicted-tokens 4 --output "$work/dataset-$tok" --overwrite > "$log" 2>&1
    end=$(date +%s.%N)
    # The tokenization pass's last progress line: "...; S task-seconds, R MB/s per core" (TaskProgress).
    pass="$(grep 'TaskProgress: tokenize: ' "$log" | tail -1 | sed -n 's/.*; \([0-9.]*\) task-seconds, \([0-9.]*\) MB\/s per core.*/\1 \2/p')"
    # The input the job read, from its own log ("corpus: N files (…), B bytes"; symbolic links followed).
    bytes="$(sed -n 's/.*TokenizeJob: corpus: .*, \([0-9]*\) bytes$/\1/p' "$log" | head -1)"
    jobs+=("$tok $workers $(echo "$end - $start" | bc) ${pass:-nan nan} ${bytes:-nan}")
  done
done
python3 - "$cores" "$out" "$toks" "$work" "$corpus" "${jobs[@]}" <<'PY'
import json, os, sys, datetime, subprocess
cores = int(sys.argv[1])
out = sys.argv[2]
toks = sys.argv[3]
work = sys.argv[4]
corpus = sys.argv[5]
# The BPE training measurement of this run, or of an earlier one on this corpus (none when bpe never ran here).
training = json.load(open(f"{work}/bpe-training.json")) if os.path.exists(f"{work}/bpe-training.json") else None
jobs = []
for j in sys.argv[6:]:
    tok, workers, seconds, task_seconds, pass_rate, input_bytes = j.split()
    workers, seconds = int(workers), float(seconds)
    mb = float(input_bytes) / 1e6
    name = {"bpe": "bpe-32000 trained by the job", "bpe-reuse": "bpe-32000 from its tokenizer.json",
            "huggingface": "huggingface (bpe-32000 via DJL)"}.get(tok, tok)
    jobs.append({"tokenizer": name, "master": f"local[{workers}]", "input_mb": mb,
                 "seconds": seconds, "mb_per_s": mb / seconds, "mb_per_s_per_core": mb / seconds / workers,
                 "tokenize_pass_task_seconds": float(task_seconds), "tokenize_pass_mb_per_s_per_core": float(pass_rate)})
    print(f"  job {name:<34} local[{workers}] {seconds:6.1f} s  {mb/seconds:6.1f} MB/s  {mb/seconds/workers:6.1f} MB/s per core"
          f" (process);  tokenization pass {float(pass_rate):6.1f} MB/s per core over {float(task_seconds):.1f} task-s")
for tok in sorted({j["tokenizer"] for j in jobs}):
    one = [j for j in jobs if j["tokenizer"] == tok and j["master"] == "local[1]"]
    many = [j for j in jobs if j["tokenizer"] == tok and j["master"] != "local[1]"]
    if one and many:
        print(f"  {tok}: local[1] / {many[0]['master']} time ratio {one[0]['seconds'] / many[0]['seconds']:.2f}")
doc = {"command": f"MTP_TOKENIZE_CORPUS={corpus} MTP_TOKENIZE_JOBS='{toks}' benchmarks/tokenize-jdk.sh", "corpus": corpus, "date": datetime.datetime.utcnow().isoformat() + "Z",
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "cores": cores, "bpe_training": training, "jobs": jobs}
json.dump(doc, open(out, "w"), indent=2)
print("written " + out)
PY

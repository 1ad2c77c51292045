#!/usr/bin/env bash
# Before/after of a change to the tokenize job's classes, interleaved in one run on the JDK corpus (issue 18).
# "before" is this checkout's build with the given source files, as they were at COMMIT, compiled and put first on
# the class path; "after" is this checkout's build. Both run the jobs of MTP_AB_JOBS (default "byte char"; also
# bpe-reuse: our BPE encoder with the 32,000 vocabulary of benchmarks/tokenize-jdk.sh, trained here first if missing;
# huggingface: that vocabulary's tokenizer.json through DJL)
# with T = 1024, n = 4 on local[1] and local[2] (MTP_AB_MASTERS, default "1 2"), ROUNDS times, alternately, on
# target/corpora/jdk-all (MTP_AB_CORPUS: also jdk-all-x3, three times the files), and the rates go to OUT (JSON).
# Usage: benchmarks/tokenize-ab.sh COMMIT OUT FILE…     e.g.
#   benchmarks/tokenize-ab.sh b825e18~1 benchmarks/results/x.json spark-jobs/src/main/java/dev/mtpspark/spark/tokenize/WindowShardWriter.java
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$1"; out="$2"; shift 2
rounds="${ROUNDS:-3}"
jobs="${MTP_AB_JOBS:-byte char}"
corpus="${MTP_AB_CORPUS:-jdk-all}"          # or jdk-all-x3 (benchmarks/corpora.sh)
masters="${MTP_AB_MASTERS:-1 2}"            # local[N] for each N
benchmarks/corpora.sh jdk-all "$corpus"
bpe=target/tokenize-jdk/dataset-bpe/tokenizer.json
if [[ " $jobs " == *" bpe-reuse "* || " $jobs " == *" huggingface "* ]] && [ ! -f "$bpe" ]; then
  MTP_JAVA_OPTS=-Xmx4g bin/mtp-local tokenize --input target/corpora/jdk-all --tokenizer bpe --bpe-vocab-size 32000 \
    --context-length 1024 --predicted-tokens 4 --output target/tokenize-jdk/dataset-bpe --overwrite > /dev/null
fi
bin/mtp-local --help > /dev/null 2>&1 || true          # builds this checkout where sources changed
cp="spark-jobs/target/classes:$(cat spark-jobs/target/mtp-local/classpath)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/classes"
for f in "$@"; do git show "$commit:$f" > "$work/src/$(basename "$f")"; done
javac -nowarn -d "$work/classes" -cp "$cp" "$work"/src/*.java
rows="$work/rows.txt"
for round in $(seq "$rounds"); do
  for workers in $masters; do
    for tok in $jobs; do
      args=(--tokenizer "$tok")
      [ "$tok" = bpe-reuse ] && args=(--tokenizer bpe --tokenizer-file "$bpe")
      [ "$tok" = huggingface ] && args=(--tokenizer huggingface --tokenizer-file "$bpe" --eos-token '<|endoftext|>')
      for build in before after; do
        pre=""; [ "$build" = before ] && pre="$work/classes:"
        log="$work/job.log"
        start=$(date +%s.%N)
        OMP_WAIT_POLICY=passive java -Xmx4g "-Dspark.master=local[$workers]" $(cat spark-jobs/target/mtp-local/jvm-flags) \
          -Dlog4j2.configurationFile=spark-jobs/src/main/resources/mtp-log4j2.properties -cp "$pre$cp" \
          dev.mtpspark.spark.MtpCli tokenize --input "target/corpora/$corpus" "${args[@]}" --context-length 1024 \
          --predicted-tokens 4 --output "$work/dataset-$tok" --overwrite > "$log" 2>&1
        end=$(date +%s.%N)
        pass="$(grep 'TaskProgress: tokenize: ' "$log" | tail -1 | sed -n 's/.*; \([0-9.]*\) task-seconds, \([0-9.]*\) MB\/s per core.*/\1 \2/p')"
        echo "$round $workers $tok $build $(echo "$end - $start" | bc) ${pass:-nan nan} $(du -sb "$work/dataset-$tok" | cut -f1)" | tee -a "$rows"
      done
    done
  done
done
python3 - "$rows" "$out" "$commit" "$*" "$jobs" "$corpus" "$(find "target/corpora/$corpus" -type f -printf "%s\n" | awk "{s += \$1} END {print s}")" "$masters" <<'PY'
import json, sys, datetime, subprocess, statistics
rows, out, commit, files, jobs, corpus, corpus_bytes, masters = sys.argv[1:9]
runs = []
for line in open(rows):
    r, w, tok, build, s, ts, rate, size = line.split()
    runs.append({"round": int(r), "master": f"local[{w}]", "tokenizer": tok, "build": build, "process_seconds": float(s),
                 "pass_task_seconds": float(ts), "pass_mb_per_s_per_core": float(rate), "dataset_bytes": int(size)})
summary = {}
for m in ("local[1]", "local[2]"):
    for tok in jobs.split():
        for b in ("before", "after"):
            v = [x["pass_mb_per_s_per_core"] for x in runs if x["master"] == m and x["tokenizer"] == tok and x["build"] == b
                 and x["pass_mb_per_s_per_core"] == x["pass_mb_per_s_per_core"]]
            if v:
                summary[f"{tok} {m} {b}"] = {"mean": round(statistics.mean(v), 1), "runs": v}
                print(f"  {tok:5s} {m} {b:6s} pass MB/s per core: mean {statistics.mean(v):5.1f}  runs {v}")
doc = {"benchmark": "tokenize job before/after, interleaved (benchmarks/tokenize-ab.sh)",
       "command": f"MTP_AB_JOBS='{jobs}' MTP_AB_CORPUS={corpus} MTP_AB_MASTERS='{masters}' benchmarks/tokenize-ab.sh {commit} {out} {files}",
       "before": f"{files} as at {commit}, first on the class path", "after": "this checkout",
       "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "date": datetime.datetime.utcnow().isoformat() + "Z", "corpus": f"target/corpora/{corpus} ({int(corpus_bytes) / 1e6:.1f} MB)",
       "summary_pass_mb_per_s_per_core": summary, "runs": runs}
json.dump(doc, open(out, "w"), indent=2)
print("written " + out)
PY

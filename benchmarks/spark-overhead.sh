#!/usr/bin/env bash
# Spark overhead: the same training tokens for the n = 4 shakespeare-char recipe model with plain local fit,
# through TrainJob on local[1] (1 worker) and on local[2] (2 workers). See docs/performance.md.
# Usage: benchmarks/spark-overhead.sh [steps=120] [local1-averaging-frequencies=20,40] [local2-averaging-frequencies=20]
#   → prints the table, writes benchmarks/results/spark-overhead.json
set -euo pipefail
cd "$(dirname "$0")/.."
# bin/mtp-local builds on first use and runs the class on the build's class path (Spark local mode).
MTP_JAVA_OPTS="${MTP_JAVA_OPTS:--Xmx6g}" MTP_MAIN_CLASS=dev.mtpspark.bench.SparkOverheadBenchmark exec bin/mtp-local ../shared/corpora/tinyshakespeare.txt benchmarks/results/spark-overhead.json "$@"

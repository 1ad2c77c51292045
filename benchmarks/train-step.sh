#!/usr/bin/env bash
# Local training-step time (plain MtpModel.fit, no Spark): n = 1 vs n = 4 (parameter-matched and not),
# interleaved, median and spread of per-step time. See docs/performance.md.
# Usage: benchmarks/train-step.sh [steps=30] [warmup=5] [large-steps=0] [large-warmup=2]
#   → prints the tables, writes benchmarks/results/train-step.json
set -euo pipefail
cd "$(dirname "$0")/.."
# bin/mtp-local builds on first use and runs the class on the build's class path (Spark local mode).
MTP_JAVA_OPTS="${MTP_JAVA_OPTS:--Xmx6g}" MTP_MAIN_CLASS=dev.mtpspark.bench.TrainStepBenchmark exec bin/mtp-local benchmarks/results/train-step.json "$@"

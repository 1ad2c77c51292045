#!/usr/bin/env bash
# Training step per head architecture and position encoding (issue 15): this build's Java step against the PyTorch
# reference and against the previous release (the "baseline", run by benchmarks/baseline-java.sh), interleaved
# in one run: blocks of steps alternate new Java, old Java, PyTorch, new Java, … (only one side computes at a time).
# Configurations: parallel/learned n = 1, and n = 4 parameter-matched for parallel, sequential and linear heads
# with learned and rotary positions (bench_interleaved.py's variant names; --matching blocks: trunk + head blocks
# = the n = 1 model's blocks). Shapes: small (nanoGPT's shakespeare-char CPU recipe) and large, as
# benchmarks/java-vs-pytorch.sh. Needs the reference (benchmarks/reference/install.sh) and a built baseline.
# Usage: benchmarks/train-step-variants.sh [bench_interleaved.py options, e.g. --shapes small]
#   MTP_BASELINE_DIR  checkout of the previous release, built (default /work/old-build); "none": no baseline side
#   MTP_BENCH_THREADS threads of every side (default 2)
#   → prints the figures and the targets, writes benchmarks/results/train-step-variants.json
#     (about 10 minutes on an idle 2-core machine with both shapes)
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/reference/python.sh
require_torch fail
threads="${MTP_BENCH_THREADS:-2}"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"   # see benchmarks/java-vs-pytorch.sh
variants=parallel-learned-n1,parallel-learned-n4-matched,parallel-rope-n4-matched
variants+=,sequential-learned-n4-matched,sequential-rope-n4-matched,linear-learned-n4-matched,linear-rope-n4-matched
# Build now, not while the benchmark is timing (with stdin closed a step server starts and exits at once).
MTP_MAIN_CLASS=dev.mtpspark.bench.StepServer bin/mtp-local </dev/null >/dev/null
baseline=()
base_dir="${MTP_BASELINE_DIR:-/work/old-build}"
described=""
if [ "$base_dir" != none ]; then
  export MTP_BASELINE_DIR="$base_dir"
  # Resolve its class path and compile StepServer against it now (benchmarks/baseline-java.sh caches both).
  benchmarks/baseline-java.sh dev.mtpspark.bench.StepServer </dev/null >/dev/null
  commit="$(git -C "$base_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  baseline=(--baseline-java "MTP_BASELINE_DIR=$base_dir benchmarks/baseline-java.sh dev.mtpspark.bench.StepServer"
            --baseline-label old)
  described=" (baseline: $base_dir at $commit)"
fi
echo "load: $(uptime)"
exec "$py" benchmarks/reference/bench_interleaved.py --threads "$threads" --variants "$variants" \
  --out benchmarks/results/train-step-variants.json "${baseline[@]}" \
  --command "MTP_BENCH_THREADS=$threads benchmarks/train-step-variants.sh${*:+ $*}$described" "$@"

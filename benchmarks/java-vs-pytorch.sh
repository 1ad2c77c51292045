#!/usr/bin/env bash
# Training step time, tokens/s and MFU of the Java model against the PyTorch reference (issue 7, benchmark 1),
# interleaved in one run (blocks of steps alternate Java, PyTorch, Java, …), small (nanoGPT CPU recipe) and
# large shapes, n = 1 and n = 4 (parameter-matched and not), plus the machine's fp32 matrix-multiply peak.
# See benchmarks/reference/README.md. Needs the reference (benchmarks/reference/install.sh).
# Usage: benchmarks/java-vs-pytorch.sh [bench_interleaved.py options, e.g. --rounds small=8,large=4 --threads 2]
#   (--variants also takes other head architectures and position encodings, e.g. sequential-rope-n4-matched, and
#   --baseline-java adds an earlier build's step server: benchmarks/train-step-variants.sh runs both)
#   → prints the figures, writes benchmarks/results/java-vs-pytorch.json (a few minutes on an idle 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/reference/python.sh
require_torch fail
threads="${MTP_BENCH_THREADS:-2}"
# Both sides get the same thread count: torch.set_num_threads in the driver; OpenMP/OpenBLAS for both processes.
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
# Passive OpenMP waiting for both (the project's default, docs/performance.md "Thread settings"): with
# busy-waiting threads, the idle side's spinning steals the cores from the side that is being timed.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
# Build now (bin/mtp-local builds on first use), not while the benchmark is timing: with stdin closed the step
# server starts and exits at once.
MTP_MAIN_CLASS=dev.mtpspark.bench.StepServer bin/mtp-local </dev/null >/dev/null
echo "load: $(uptime)"
exec "$py" benchmarks/reference/bench_interleaved.py --threads "$threads" \
  --command "MTP_BENCH_THREADS=$threads benchmarks/java-vs-pytorch.sh${*:+ $*}" "$@"

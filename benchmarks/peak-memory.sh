#!/usr/bin/env bash
# Peak memory of a training step (ND4J off-heap, JVM heap, process RSS) against n = 1, 2, 4, 8, vocabulary 256
# and 32,000, T = 256 (the model's one training step, heads one at a time); one fresh JVM per configuration.
# See docs/performance.md. Main class: benchmarks/java, dev.mtpspark.bench.PeakMemoryBenchmark.
# Usage: benchmarks/peak-memory.sh [steps=2] [n-list=1,2,4,8] [vocab-list=256,32000]
#   → prints the table, writes benchmarks/results/peak-memory.json (MTP_PEAK_OUT: another file)
#   MTP_JAVA_OPTS=… -Dmtp.bench.step-threads=1: one batch shard per step (default 0: one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
# Off-heap allocations are capped by JavaCPP at maxbytes (default: the heap's -Xmx); lift the cap so the
# large configurations can show their real peak instead of failing.
# glibc adapts its mmap threshold upwards (to 32 MiB) after the first large free, and from then on keeps freed
# mid-sized ND4J arrays in its heap arenas instead of returning them: many short-lived head arrays
# then show up as resident memory that grows with n. A fixed 1 MiB threshold returns them
# (docs/performance.md, "Peak memory"); the same setting is recommended for executors.
# MALLOC_MMAP_THRESHOLD_= (set, empty) measures with glibc's own behaviour instead.
if [ -z "${MALLOC_MMAP_THRESHOLD_+set}" ]; then
  export MALLOC_MMAP_THRESHOLD_=1048576
elif [ -z "$MALLOC_MMAP_THRESHOLD_" ]; then
  unset MALLOC_MMAP_THRESHOLD_
fi
MTP_JAVA_OPTS="${MTP_JAVA_OPTS:--Xmx2g -Dorg.bytedeco.javacpp.maxbytes=18g -Dorg.bytedeco.javacpp.maxphysicalbytes=22g}" \
  MTP_MAIN_CLASS=dev.mtpspark.bench.PeakMemoryBenchmark exec bin/mtp-local "${MTP_PEAK_OUT:-benchmarks/results/peak-memory.json}" "$@"

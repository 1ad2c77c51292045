#!/usr/bin/env bash
# Parity check of the Java MTP model against the PyTorch reference (issue 7): same initial weights and batch →
# per-horizon losses within 1e-5 and every parameter's gradient norm within 1e-4 relative, for parallel and
# sequential heads with n = 1, 2, 4 (double and single precision) and a few variants. Run by .ci/run after
# `mvn -B verify`; skipped (exit 0) where the reference is not installed. See benchmarks/reference/README.md.
# Usage: benchmarks/reference/parity.sh [output dir, default target/reference-parity]
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/reference/python.sh
require_torch skip "parity check"
out="${1:-target/reference-parity}"
rm -rf "$out"
mkdir -p "$out"
# Java side: builds each case's model, writes weights, batch, gradients (.npz) and losses/gradient norms (JSON).
MTP_MAIN_CLASS=dev.mtpspark.bench.ReferenceParityDump bin/mtp-local "$out"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$py" benchmarks/reference/parity.py "$out"

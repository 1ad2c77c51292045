#!/usr/bin/env bash
# Check of the Hugging Face export (GPT-2 safetensors layout): the Java side (dev.mtpspark.bench.ExportCheckDump)
# exports one small model per variant and writes the ids and its own logits of every head; export_check.py parses
# the safetensors files from their bytes, validates them, rebuilds each model from the export alone and compares
# every head's logits (max |diff| <= 1e-5 * max(1, max |logit|)). hf_check.py then loads the GPT-2 cases with
# transformers' GPT2LMHeadModel where transformers is installed (it skips, saying so, where it is not).
# Skipped (exit 0) where PyTorch/numpy are not installed. Usage: benchmarks/reference/export_check.sh [output dir,
# default target/export-check]
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/reference/python.sh
require_torch skip "export check"
out="${1:-target/export-check}"
rm -rf "$out"
mkdir -p "$out"
# Java side: one case directory per variant, each holding export/ and expected.npz.
MTP_MAIN_CLASS=dev.mtpspark.bench.ExportCheckDump bin/mtp-local "$out"
shopt -s nullglob
cases=("$out"/*/)
shopt -u nullglob
if [ "${#cases[@]}" -eq 0 ]; then
  echo "export check: ExportCheckDump wrote no case directory under $out" >&2
  exit 1
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$py" benchmarks/reference/export_check.py "${cases[@]}"
"$py" benchmarks/reference/hf_check.py "${cases[@]}"

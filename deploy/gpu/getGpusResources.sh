#!/usr/bin/env bash
# Spark resource discovery script for GPUs (spark.{driver,executor}.resource.gpu.discoveryScript): prints the
# GPUs this container may use as Spark's ResourceInformation JSON, e.g. {"name": "gpu", "addresses": ["0","1"]}.
#
# Which GPUs: CUDA_VISIBLE_DEVICES when it is set to device indices (YARN's GPU isolation and some schedulers
# set it), else every GPU nvidia-smi lists (Kubernetes' NVIDIA device plugin and Docker's --gpus expose only the
# allocated ones, numbered from 0). Exits non-zero with a message when no GPU is visible, so an executor
# without a GPU fails at start instead of training on the CPU. MTP_GPU_ADDRESSES="0,1" overrides both (tests).
set -euo pipefail

addresses=()
if [ -n "${MTP_GPU_ADDRESSES:-}" ]; then
  IFS=',' read -r -a addresses <<<"$MTP_GPU_ADDRESSES"
elif [[ "${CUDA_VISIBLE_DEVICES:-}" =~ ^[0-9]+(,[0-9]+)*$ ]]; then
  # Inside the process CUDA renumbers the visible devices 0..k-1; ND4J sees them that way.
  IFS=',' read -r -a visible <<<"$CUDA_VISIBLE_DEVICES"
  for i in "${!visible[@]}"; do addresses+=("$i"); done
elif command -v nvidia-smi >/dev/null 2>&1; then
  while IFS= read -r line; do
    line="${line//[[:space:]]/}"
    [ -n "$line" ] && addresses+=("$line")
  done < <(nvidia-smi --query-gpu=index --format=csv,noheader)
else
  echo "getGpusResources.sh: no GPU visible (CUDA_VISIBLE_DEVICES unset and nvidia-smi not found)" >&2
  exit 1
fi

if [ "${#addresses[@]}" -eq 0 ]; then
  echo "getGpusResources.sh: no GPU visible" >&2
  exit 1
fi

json=""
for a in "${addresses[@]}"; do
  [[ "$a" =~ ^[0-9]+$ ]] || { echo "getGpusResources.sh: not a GPU index: '$a'" >&2; exit 1; }
  json+="${json:+,}\"$a\""
done
printf '{"name": "gpu", "addresses": [%s]}\n' "$json"

#!/usr/bin/env bash
# Installs what the PyTorch reference (benchmarks/reference/) needs, from Debian's own packages:
#   python3-torch         PyTorch (1.13 on Debian 12) for /usr/bin/python3
#   python3-numpy         to read the .npz files the Java side exports
#   libopenblas0-pthread  an optimised BLAS: Debian's torch calls the system libblas.so.3, which without it is
#                         the slow reference BLAS, and every timing against PyTorch would be meaningless
# Idempotent: installs only what is missing, then checks the import and reports the BLAS in use.
# Not needed by the Maven build or its tests; benchmarks/reference/parity.sh skips itself without it.
set -euo pipefail
packages=(python3-torch python3-numpy libopenblas0-pthread)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "already installed: ${packages[*]}"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
echo "libblas.so.3 → $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo 'not found')"

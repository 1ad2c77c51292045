# Sourced by the scripts that run the PyTorch reference: sets $py (Debian's python3-torch, not a pyenv/venv python;
# MTP_REFERENCE_PYTHON overrides it) and defines
#   require_torch skip WHAT   exit 0 with "WHAT skipped: …" where torch/numpy are missing (checks run by .ci/run)
#   require_torch fail        exit 1 with the reason there (benchmarks, which cannot run without it)
py="${MTP_REFERENCE_PYTHON:-/usr/bin/python3}"
require_torch() {
  if "$py" -c 'import torch, numpy' >/dev/null 2>&1; then
    return 0
  fi
  if [ "$1" = skip ]; then
    echo "$2 skipped: PyTorch reference not installed (run benchmarks/reference/install.sh)"
    exit 0
  fi
  echo "PyTorch reference not installed: run benchmarks/reference/install.sh" >&2
  exit 1
}

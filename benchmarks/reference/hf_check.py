#!/usr/bin/env python3
"""Loads the Hugging Face export with the transformers library itself and compares head 1 with the Java logits.

Each argument is a case directory written by dev.mtpspark.bench.ExportCheckDump (export/ + expected.npz, see
export_check.py). For every case whose export/config.json says model_type "gpt2", the directory is loaded with
GPT2LMHeadModel.from_pretrained (float32, eval mode, local files only); loading must report no missing,
unexpected or mismatched weights, and its logits for expected.npz's ids must match head 1 of the Java logits:
max |hf - java| <= 1e-5 * max(1, max |java logit|). Cases with another model_type are skipped, saying why;
heads 2..n are export_check.py's business (transformers knows nothing of mtp_heads.safetensors).

Where transformers cannot be imported this prints "hf_check skipped: transformers is not installed" and exits 0.
Usage: hf_check.py CASE_DIR... [--rtol 1e-5]. Exits 1 when any case fails.
"""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree


def check_case(case_dir, rtol, np, torch, GPT2LMHeadModel):
    name = os.path.basename(os.path.normpath(case_dir))
    export = os.path.join(case_dir, "export")
    try:
        with open(os.path.join(export, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        return (False, f"{name}: FAIL  cannot read export/config.json: {e}")
    mtp = cfg.get("mtp") if isinstance(cfg.get("mtp"), dict) else {}
    described = "/".join(str(mtp.get(k, "?")) for k in ("head_architecture", "norm", "position_encoding"))
    if cfg.get("model_type") != "gpt2":
        return (True, f"{name}: skipped  model_type {cfg.get('model_type')!r} ({described}): "
                      f"not a GPT-2 model, transformers cannot load it as GPT2LMHeadModel")
    path = os.path.join(case_dir, "expected.npz")
    try:
        with np.load(path) as z:
            ids, java = z["ids"].astype(np.int64), z["logits"].astype(np.float64)
    except (OSError, KeyError, ValueError) as e:
        return (False, f"{name}: FAIL  cannot read expected.npz (ids, logits): {e}")
    if ids.ndim != 2 or java.ndim != 4 or java.shape[0] != ids.shape[0] or java.shape[2] != ids.shape[1]:
        return (False, f"{name}: FAIL  ids {list(ids.shape)} and logits {list(java.shape)} are not [B, T] "
                       f"and [B, n, T, V]")
    try:
        model, info = GPT2LMHeadModel.from_pretrained(export, output_loading_info=True, torch_dtype=torch.float32,
                                                      local_files_only=True)
    except Exception as e:   # transformers' own validation (shapes, files) raises various types
        return (False, f"{name}: FAIL  GPT2LMHeadModel.from_pretrained: {type(e).__name__}: {e}")
    problems = [f"{key} {info[key]}" for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")
                if info.get(key)]
    if problems:
        return (False, f"{name}: FAIL  loading reported " + "; ".join(problems))
    model.eval()
    with torch.no_grad():
        hf = model(input_ids=torch.from_numpy(ids), use_cache=False).logits.to(torch.float64).numpy()
    head1 = java[:, 0]
    if hf.shape != head1.shape:
        return (False, f"{name}: FAIL  transformers' logits {list(hf.shape)} vs Java head 1 {list(head1.shape)}")
    if not np.all(np.isfinite(hf)) or not np.all(np.isfinite(head1)):
        return (False, f"{name}: FAIL  NaN or infinity in the logits")
    diff = float(np.abs(hf - head1).max())
    tol = rtol * max(1.0, float(np.abs(head1).max()))
    ok = diff <= tol
    return (ok, f"{name}: n={java.shape[1]} {described} GPT2LMHeadModel B={ids.shape[0]} T={ids.shape[1]} "
                f"V={head1.shape[-1]}  max|diff| h1={diff:.2e} (tol {tol:.2e})  {'PASS' if ok else 'FAIL'}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="case directories (export/ + expected.npz)")
    parser.add_argument("--rtol", type=float, default=1e-5,
                        help="pass when max |diff| <= rtol * max(1, max |java logit|) (default 1e-5)")
    args = parser.parse_args(argv)
    try:
        import numpy as np
        import torch
        from transformers import GPT2LMHeadModel
    except ImportError as e:
        if getattr(e, "name", None) in ("transformers", "torch", "numpy"):
            print(f"hf_check skipped: {e.name} is not installed")
        else:
            print(f"hf_check skipped: transformers cannot be imported ({e})")
        return 0
    if not args.cases:
        parser.error("no case directories given")
    torch.set_num_threads(min(torch.get_num_threads(), int(os.environ.get("OMP_NUM_THREADS", "2"))))
    failed = 0
    for case in args.cases:
        ok, line = check_case(case, args.rtol, np, torch, GPT2LMHeadModel)
        print(line)
        failed += not ok
    print(f"hf check: {len(args.cases) - failed}/{len(args.cases)} cases pass or are skipped"
          + (f"; {failed} failing" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Parity check of the Java MTP model against the PyTorch reference (mtp_reference.py).

Reads the directory written by dev.mtpspark.bench.ReferenceParityDump (cases.json plus, per case, the
initial weights, the batch and the gradients as .npz), rebuilds each model in PyTorch from the same weights
in the same precision, computes the per-horizon losses and, with autograd, the gradients, and compares:
  - per-horizon mean cross-entropy: |torch - java| <= 1e-5 (absolute);
  - DL4J's score against (sum_k w_k CE_k), same tolerance;
  - each parameter's gradient L2 norm: |torch - java| / max(torch, java) <= 1e-4.
The element-wise gradient difference (max |g_torch - g_java| / max |g_java| per parameter) is printed as well.
DL4J's gradient is that of the loss summed over the batch (its updater divides by the batch size later), so
the reference differentiates B * sum_k w_k CE_k.

Usage: parity.py <dump dir> [--loss-tol 1e-5] [--grad-rtol 1e-4]. Exits 1 on any mismatch.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtp_reference import MtpConfig, MtpReference, load_npz_parameters  # noqa: E402

DTYPES = {"DOUBLE": torch.float64, "FLOAT": torch.float32}


def check_case(case, directory, loss_tol, grad_rtol):
    dtype = DTYPES[case["dataType"]]
    cfg = MtpConfig.from_dict(case["config"])
    model = MtpReference(cfg, load_npz_parameters(os.path.join(directory, case["weights"]), cfg, dtype), dtype)
    with np.load(os.path.join(directory, case["batch"])) as z:
        features = torch.from_numpy(z["features"]).long()
        labels = torch.from_numpy(z["labels"]).long()
    batch = features.shape[0]

    total, ces = model.losses(features, labels)
    (total * batch).backward()

    problems = []
    loss_diff = max(abs(ce.item() - j) for ce, j in zip(ces, case["horizonLoss"]))
    if loss_diff > loss_tol:
        problems.append(f"per-horizon loss differs by {loss_diff:.2e} (torch {[round(c.item(), 8) for c in ces]}, "
                        f"java {case['horizonLoss']})")
    score_diff = abs(total.item() - case["score"])
    if score_diff > loss_tol:
        problems.append(f"score differs by {score_diff:.2e} (torch {total.item():.8f}, java {case['score']:.8f})")

    with np.load(os.path.join(directory, case["gradients"])) as z:
        java_grads = {k: z[k] for k in z.files}
    worst_norm, worst_norm_name, worst_elem = 0.0, "", 0.0
    for name, param in model.p.items():
        # A parameter the reference never uses has no gradient: compare zeros, so the mismatch is reported.
        g = torch.zeros(param.shape, dtype=torch.float64) if param.grad is None else param.grad.detach().to(torch.float64)
        t_norm = g.norm().item()
        j_norm = case["gradientNorms"][name]
        rel = abs(t_norm - j_norm) / max(t_norm, j_norm, 1e-300)
        if rel > worst_norm:
            worst_norm, worst_norm_name = rel, name
        if rel > grad_rtol:
            problems.append(f"{name}: gradient norm torch {t_norm:.8e} vs java {j_norm:.8e} (relative {rel:.2e})")
        jg = torch.from_numpy(java_grads[name]).to(torch.float64)
        scale = max(jg.abs().max().item(), 1e-300)
        worst_elem = max(worst_elem, (g - jg).abs().max().item() / scale)
    return {"name": case["name"], "dtype": case["dataType"], "params": len(model.p), "loss_diff": loss_diff,
            "score_diff": score_diff, "grad_norm_rel": worst_norm, "grad_norm_worst": worst_norm_name,
            "grad_elem_rel": worst_elem, "problems": problems}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("--loss-tol", type=float, default=1e-5)
    ap.add_argument("--grad-rtol", type=float, default=1e-4)
    args = ap.parse_args()
    with open(os.path.join(args.directory, "cases.json")) as f:
        cases = json.load(f)["cases"]
    torch.manual_seed(0)

    rows = [check_case(c, args.directory, args.loss_tol, args.grad_rtol) for c in cases]
    print(f"PyTorch {torch.__version__} reference vs Java; tolerances: loss {args.loss_tol:g} absolute, "
          f"gradient norm {args.grad_rtol:g} relative")
    print("| case | dtype | params | max |Δ loss_k| | |Δ score| | max rel Δ ‖grad‖ (parameter) | max elementwise Δgrad / max|grad| | result |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    for r in rows:
        ok = not r["problems"]
        failed += not ok
        print(f"| {r['name']} | {r['dtype']} | {r['params']} | {r['loss_diff']:.1e} | {r['score_diff']:.1e} | "
              f"{r['grad_norm_rel']:.1e} ({r['grad_norm_worst']}) | {r['grad_elem_rel']:.1e} | {'pass' if ok else 'FAIL'} |")
    for r in rows:
        for p in r["problems"][:10]:
            print(f"  {r['name']}: {p}")
    print(f"parity: {len(rows) - failed}/{len(rows)} cases pass")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

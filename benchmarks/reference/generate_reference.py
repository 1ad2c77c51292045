#!/usr/bin/env python3
"""Greedy generation with the PyTorch reference model (mtp_reference.py), with a KV cache: a speed and
correctness reference for the Java side's cached generation.

Only head 1 (the ordinary next-token path) is used: trunk -> head 1 (PARALLEL: head 1's block; SEQUENTIAL:
the trunk output itself; LINEAR: head 1's linear map) -> shared final norm -> unembedding; the token is the
arg max of the logits (the first one on ties, as the Java sampler's greedy pick).

Decoding (float32, torch.no_grad(), batch 1): the prompt is prefilled once, then one token per step, appending
its keys and values to one cache per trunk block (and per head-1 block for parallel heads).

Context policy (shared by both modes, so that their token sequences are identical; the Java side's cached
generation must implement exactly this, details included): the model sees a window, a suffix of the token history, at positions 0 .. L-1 with L <= T
(T = contextLength). A prompt longer than T is cut to its newest T tokens. When the window holds T tokens
and the next token has to be fed, the window becomes the newest keep = max(1, T // 2) tokens of the history
(the token just generated included), which are prefilled again at positions 0 .. keep-1, and decoding goes
on from there. --no-cache recomputes the full window every step (the nanoGPT way), with the same windows.

Timing: the whole generation runs once untimed (warm-up), then again timed (--repeats times, median); the time
counted is the decode loop (everything after the first prefill of the prompt: the per-token steps and the
re-prefills); tokens_per_second = new_tokens / that time.

Usage:
  generate_reference.py --config cfg.json --weights weights.npz --prompt-ids 1,2,3 --new-tokens 500
                        [--no-cache] [--one-row-gemv] [--threads 1] [--repeats 1] [--out result.json] [--check-against ids.json]
  generate_reference.py --self-test     # kv-cache == no-cache == the reference's full forward (== kv-cache with
                                        # one-row gemv), 4 head types
The config JSON has MtpModelConfig's keys (vocabSize, contextLength, modelWidth, attentionHeads, trunkDepth,
mlpWidth, predictedTokens, headArchitecture, normType, positionalEncoding, normEpsilon; unknown keys are
ignored; a {"config": {...}} wrapper, as in the parity dump's cases, is accepted too). --check-against takes
a JSON list of ids (or an object with an "ids" list) and exits 1 at the first difference.
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# BLAS and OpenMP read their thread counts when they are loaded, so set them before torch is imported
# (Debian's torch calls the system BLAS, which torch.set_num_threads does not reach).
_THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtp_reference import (LEARNED, LINEAR, PARALLEL, ROPE, SEQUENTIAL, MtpConfig, MtpReference,  # noqa: E402
                           init_parameters, load_npz_parameters)


# ------------------------------------------------------------------------------------------- cached forward

class KvCache:
    """Keys and values of one block for positions 0 .. length-1, preallocated [1, heads, T, head width]."""

    def __init__(self, cfg: MtpConfig, dtype):
        shape = (1, cfg.attentionHeads, cfg.contextLength, cfg.head_width)
        self.k = torch.empty(shape, dtype=dtype)
        self.v = torch.empty(shape, dtype=dtype)
        self.length = 0


class CachedHead1:
    """Head 1 of an MtpReference, run incrementally over one sequence. The norms, projections, MLPs, tables
    and rotary buffers are the reference model's own (model.norm, model.linear, model.mlp, model.p,
    model.rope_cos/sin); only attention is rewritten, to attend from new rows to cached keys."""

    def __init__(self, model: MtpReference, one_row_gemv: bool = False):
        self.model, self.cfg = model, model.cfg
        self.one_row_gemv = one_row_gemv
        dtype = model.p["mtp_tokW"].dtype
        self.blocks = [f"mtp_t{i}" for i in range(self.cfg.trunkDepth)]
        if self.cfg.headArchitecture == PARALLEL:
            self.blocks.append("mtp_h1")
        self.caches = {b: KvCache(self.cfg, dtype) for b in self.blocks}

    def reset(self):
        for c in self.caches.values():
            c.length = 0

    @property
    def length(self) -> int:
        return self.caches[self.blocks[0]].length if self.blocks else 0

    def _rotary(self, x: torch.Tensor, first: int) -> torch.Tensor:
        """The reference's rotation (rotate-half, base 10000) for rows at positions first, first+1, ..."""
        m, half, n = self.model, self.cfg.head_width // 2, x.shape[-2]
        cos, sin = m.rope_cos[first:first + n], m.rope_sin[first:first + n]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def _attention(self, prefix: str, x: torch.Tensor, cache: KvCache) -> torch.Tensor:
        cfg, m = self.cfg, self.model
        n, h, hd, first = x.shape[0], cfg.attentionHeads, cfg.head_width, cache.length
        if first + n > cfg.contextLength:
            raise RuntimeError(f"KV cache overflow: {first} + {n} > T = {cfg.contextLength}")
        qkv = self._linear(x, prefix + "attnQkvW", prefix + "attnQkvBias")
        q, k, v = qkv.view(1, n, 3, h, hd).permute(2, 0, 3, 1, 4)             # each [1, h, n, hd]
        if cfg.positionalEncoding == ROPE:
            q, k = self._rotary(q, first), self._rotary(k, first)
        end = first + n
        cache.k[:, :, first:end] = k
        cache.v[:, :, first:end] = v
        cache.length = end
        keys, values = cache.k[:, :, :end], cache.v[:, :, :end]
        scores = (q @ keys.transpose(-1, -2)) * (1.0 / math.sqrt(hd))         # [1, h, n, end]
        if n > 1:   # query i sits at position first + i and sees keys 0 .. first + i
            visible = torch.arange(end)[None, :] <= (first + torch.arange(n))[:, None]
            scores = scores.masked_fill(~visible, float("-inf"))
        context = torch.softmax(scores, dim=-1) @ values                       # [1, h, n, hd]
        merged = context.transpose(1, 2).reshape(n, cfg.modelWidth)
        return self._linear(merged, prefix + "attnOutW", prefix + "attnOutBias")

    def _linear(self, x: torch.Tensor, w: str, b: str) -> torch.Tensor:
        """The reference's x @ W + b; with --one-row-gemv a single row goes through a matrix-vector product
        (torch.addmv, BLAS gemv) instead of a 1 x n matrix product (addmm, BLAS gemm, which packs W every call)."""
        m = self.model
        if self.one_row_gemv and x.shape[0] == 1:
            return torch.addmv(m.p[b][0], m.p[w].t(), x[0]).unsqueeze(0)
        return m.linear(x, w, b)

    def _mlp(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        """MtpReference.mlp through _linear."""
        hidden = F.gelu(self._linear(x, prefix + "mlpInW", prefix + "mlpInBias"), approximate="tanh")
        return self._linear(hidden, prefix + "mlpOutW", prefix + "mlpOutBias")

    def _block(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = x + self._attention(prefix, m.norm(prefix + "ln1", x), self.caches[prefix])
        return x + self._mlp(prefix, m.norm(prefix + "ln2", x))

    def feed(self, ids) -> torch.Tensor:
        """Appends ids (at positions length, length+1, ...) and returns head 1's logits [V] at the last one."""
        cfg, m = self.cfg, self.model
        first, n = self.length, len(ids)
        x = F.embedding(torch.tensor(ids, dtype=torch.long), m.p["mtp_tokW"])   # [n, d]
        if cfg.positionalEncoding == LEARNED:
            x = x + m.p["mtp_posW"][first:first + n]
        for i in range(cfg.trunkDepth):
            x = self._block(f"mtp_t{i}", x)
        if cfg.headArchitecture == PARALLEL:
            x = self._block("mtp_h1", x)
        elif cfg.headArchitecture == LINEAR:
            x = self._linear(x, "mtp_h1linW", "mtp_h1linBias")
        # SEQUENTIAL: head 1 is the trunk output itself.
        last = m.norm("mtp_finalNorm", x[-1:])
        if self.one_row_gemv:
            return torch.mv(m.p["mtp_unembedW"].t(), last[0])
        return (last @ m.p["mtp_unembedW"])[0]


def reference_logits(model: MtpReference, window) -> torch.Tensor:
    """Head 1's logits at the window's last position through the unmodified MtpReference.forward (the window
    at positions 0..L-1, right-padded to T with id 0, as the Java TextSampler does): the self-test's oracle."""
    cfg = model.cfg
    t, used = cfg.contextLength, len(window)
    features = torch.zeros(1, cfg.input_channels, t, dtype=torch.long)
    for c in range(cfg.input_channels):
        row = window[c:]
        features[0, c, :len(row)] = torch.tensor(row, dtype=torch.long)
    return model.forward(features)[0][used - 1]


# ------------------------------------------------------------------------------------------- generation

def keep_tokens(cfg: MtpConfig) -> int:
    return max(1, cfg.contextLength // 2)


def generate(model: MtpReference, prompt, new_tokens: int, mode: str, collect_logits: bool = False,
             one_row_gemv: bool = False):
    """Greedy ids after prompt. mode: "kv-cache", "no-cache" (full window recomputed every step through the
    cached path with an emptied cache) or "reference" (MtpReference.forward over the padded window).
    Returns (ids, decode seconds, prefill seconds, the history lengths at which the window was re-prefilled,
    per-step logits or None)."""
    cfg = model.cfg
    t, keep = cfg.contextLength, keep_tokens(cfg)
    history = list(prompt)
    start = max(0, len(history) - t)          # the window is history[start:]
    head = CachedHead1(model, one_row_gemv)
    logits_seen = [] if collect_logits else None
    refills = []

    def full_window():
        if mode == "reference":
            return reference_logits(model, history[start:])
        head.reset()
        return head.feed(history[start:])

    with torch.no_grad():
        t0 = time.perf_counter()
        logits = full_window()                # the prompt's prefill (not counted as decoding)
        t1 = time.perf_counter()
        for step in range(new_tokens):
            if collect_logits:
                logits_seen.append(logits.clone())
            history.append(int(torch.argmax(logits)))
            if step == new_tokens - 1:
                break                         # the last token is not fed
            if len(history) - start > t:      # the window is full: keep the newest T/2 tokens, prefill again
                start = len(history) - keep
                refills.append(len(history))
                logits = full_window()
            elif mode == "kv-cache":
                logits = head.feed(history[-1:])
            else:
                logits = full_window()
            if mode == "kv-cache" and head.length != len(history) - start:
                raise AssertionError(f"cache holds {head.length} positions, window {len(history) - start}")
        t2 = time.perf_counter()
    return history[len(prompt):], t2 - t1, t1 - t0, refills, logits_seen


# ------------------------------------------------------------------------------------------- I/O

def read_config(path: str) -> MtpConfig:
    with open(path) as f:
        d = json.load(f)
    if "config" in d and isinstance(d["config"], dict):
        d = d["config"]
    return MtpConfig.from_dict(d)


def read_ids(path: str):
    with open(path) as f:
        d = json.load(f)
    if isinstance(d, dict):
        d = d["ids"]
    return [int(i) for i in d]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def save_npz_dl4j(path: str, params) -> None:
    """Parameters as the Java side's NpzExport writes them: one array per DL4J name, float32, C order."""
    np.savez(path, **{k: np.ascontiguousarray(v.detach().cpu().numpy().astype(np.float32)) for k, v in params.items()})


# ------------------------------------------------------------------------------------------- self-test

SELF_TEST_CASES = [
    ("parallel/learned/layernorm", dict(headArchitecture=PARALLEL, positionalEncoding=LEARNED, normType="LAYER_NORM")),
    ("parallel/rope/layernorm", dict(headArchitecture=PARALLEL, positionalEncoding=ROPE, normType="LAYER_NORM")),
    ("parallel/rope/rmsnorm", dict(headArchitecture=PARALLEL, positionalEncoding=ROPE, normType="RMS_NORM")),
    ("sequential/learned/layernorm", dict(headArchitecture=SEQUENTIAL, positionalEncoding=LEARNED, normType="LAYER_NORM")),
    ("sequential/rope/rmsnorm", dict(headArchitecture=SEQUENTIAL, positionalEncoding=ROPE, normType="RMS_NORM")),
    ("linear/learned/layernorm", dict(headArchitecture=LINEAR, positionalEncoding=LEARNED, normType="LAYER_NORM")),
    ("linear/rope/rmsnorm", dict(headArchitecture=LINEAR, positionalEncoding=ROPE, normType="RMS_NORM")),
]


def self_test() -> int:
    """Random small models (T = 16, 60 new tokens: the window is re-prefilled 6 times), each saved to and
    loaded from a temporary .npz in the DL4J naming: kv-cache ids == no-cache ids == reference-forward ids, and
    the per-step logits agree to float32 rounding. A prompt longer than T is tried too."""
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for ci, (name, arch) in enumerate(SELF_TEST_CASES):
            cfg = MtpConfig(vocabSize=29, contextLength=16, modelWidth=32, attentionHeads=4, trunkDepth=2,
                            mlpWidth=64, predictedTokens=3, normEpsilon=1e-5, initStd=0.3, seed=100 + ci, **arch)
            params = init_parameters(cfg, torch.float32)
            g = torch.Generator().manual_seed(200 + ci)   # non-trivial gains and biases too
            for k, v in params.items():
                if k.endswith("Gain") or k.endswith("Bias"):
                    params[k] = v + 0.1 * torch.randn(v.shape, generator=g)
            path = os.path.join(tmp, f"case{ci}.npz")
            save_npz_dl4j(path, params)
            model = MtpReference(cfg, load_npz_parameters(path, cfg, torch.float32), torch.float32)
            for prompt in ([3, 1, 4, 1, 5], list(range(1, 21))):
                runs = {mode: generate(model, prompt, 60, mode, collect_logits=True)
                        for mode in ("kv-cache", "no-cache", "reference")}
                runs["kv-cache-gemv"] = generate(model, prompt, 60, "kv-cache", collect_logits=True, one_row_gemv=True)
                ids = {m: r[0] for m, r in runs.items()}
                refills = runs["kv-cache"][3]
                # The policy, independently: the first re-prefill when the window would reach T + 1 tokens,
                # then every T + 1 - keep tokens; the last generated token is never fed.
                t, keep, last = cfg.contextLength, keep_tokens(cfg), len(prompt) + 60 - 1
                expected = list(range(max(len(prompt), t) + 1, last + 1, t + 1 - keep))
                others = ("no-cache", "reference", "kv-cache-gemv")
                diff = max((a - b).abs().max().item()
                           for m in others
                           for a, b in zip(runs["kv-cache"][4], runs[m][4]))
                problems = [f"{m} differs from kv-cache at index {first_difference(ids['kv-cache'], ids[m])}"
                            for m in others if ids[m] != ids["kv-cache"]]
                problems += [f"{m} re-prefilled at history lengths {r[3]}, expected {expected}"
                             for m, r in runs.items() if r[3] != expected]
                if len(refills) < 2:
                    problems.append(f"only {len(refills)} re-prefills")
                if diff > 1e-4:
                    problems.append(f"logits differ by {diff:.2e}")
                distinct = len(set(ids["kv-cache"]))
                ok = not problems
                failures += not ok
                print(f"{'pass' if ok else 'FAIL'}  {name:30s} prompt {len(prompt):2d}  60 new tokens, "
                      f"{len(refills)} re-prefills, {distinct:2d} distinct ids, max |Δ logits| vs kv-cache {diff:.1e}  "
                      f"ids[:12] {ids['kv-cache'][:12]}" + ("" if ok else "  " + "; ".join(problems)))
    total = 2 * len(SELF_TEST_CASES)
    print(f"self-test: {total - failures}/{total} pass (torch {torch.__version__})")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--config", help="JSON with MtpModelConfig's keys")
    ap.add_argument("--weights", help=".npz with the DL4J parameter names (NpzExport)")
    ap.add_argument("--prompt-ids", help="comma-separated prompt ids, e.g. 1,2,3")
    ap.add_argument("--new-tokens", type=int, default=500)
    ap.add_argument("--no-cache", action="store_true", help="recompute the full window every step")
    ap.add_argument("--one-row-gemv", action="store_true",
                    help="single-row products (every cached step) as matrix-vector products (BLAS gemv) instead of "
                         "1 x n matrix products (gemm)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads and OMP/OPENBLAS/MKL_NUM_THREADS")
    ap.add_argument("--repeats", type=int, default=1, help="timed generations after the warm-up; the median counts")
    ap.add_argument("--out", help="write the result JSON here")
    ap.add_argument("--check-against", help="JSON list of expected ids; exit 1 at the first difference")
    ap.add_argument("--self-test", action="store_true", help="kv-cache vs no-cache vs reference forward on random models")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.self_test:
        return self_test()
    if not (args.config and args.weights and args.prompt_ids):
        ap.error("--config, --weights and --prompt-ids are required (or --self-test)")
    if args.new_tokens < 1:
        ap.error("--new-tokens must be >= 1")

    cfg = read_config(args.config)
    model = MtpReference(cfg, load_npz_parameters(args.weights, cfg, torch.float32), torch.float32)
    model.eval()
    prompt = [int(s) for s in args.prompt_ids.split(",") if s.strip()]
    if not prompt:
        ap.error("--prompt-ids needs at least one id")
    bad = [i for i in prompt if not 0 <= i < cfg.vocabSize]
    if bad:
        ap.error(f"prompt ids outside 0..{cfg.vocabSize - 1}: {bad[:10]}")
    mode = "no-cache" if args.no_cache else "kv-cache"

    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    gemv = args.one_row_gemv
    warm_ids = generate(model, prompt, args.new_tokens, mode, one_row_gemv=gemv)[0]          # warm-up, untimed
    decodes, prefills = [], []
    for _ in range(args.repeats):
        ids, decode_s, prefill_s, refills, _ = generate(model, prompt, args.new_tokens, mode, one_row_gemv=gemv)
        if ids != warm_ids:
            raise AssertionError("the warm-up and a timed run generated different ids")
        decodes.append(decode_s)
        prefills.append(prefill_s)
    order = sorted(range(args.repeats), key=lambda i: decodes[i])
    median = order[(args.repeats - 1) // 2]                                # the lower median: one actual run
    decode_s, prefill_s = decodes[median], prefills[median]
    result = {"tokens_per_second": args.new_tokens / decode_s, "new_tokens": args.new_tokens, "ids": ids,
              "mode": mode, "oneRowGemv": gemv, "threads": args.threads, "torch": torch.__version__,
              "decode_seconds": decode_s, "prompt_prefill_seconds": prefill_s, "prompt_tokens": len(prompt),
              "repeats": args.repeats, "decode_seconds_all": decodes, "prompt_prefill_seconds_all": prefills,
              "re_prefills": len(refills), "re_prefill_at_history_lengths": refills, "contextLength": cfg.contextLength, "keep_tokens": keep_tokens(cfg),
              "headArchitecture": cfg.headArchitecture, "positionalEncoding": cfg.positionalEncoding,
              "normType": cfg.normType}
    print(f"{mode}{' (one-row gemv)' if gemv else ''}: {args.new_tokens} new tokens in {decode_s:.3f} s"
          f"{f' (median of {args.repeats})' if args.repeats > 1 else ''} = {result['tokens_per_second']:.1f} tokens/s "
          f"({args.threads} threads, {len(refills)} re-prefills at T = {cfg.contextLength}, keep {keep_tokens(cfg)}; "
          f"prompt prefill {prefill_s * 1e3:.1f} ms, torch {torch.__version__})")
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
            f.write("\n")
    if args.check_against:
        expected = read_ids(args.check_against)
        at = first_difference(ids, expected)
        if at is not None:
            got = ids[at] if at < len(ids) else "(end)"
            want = expected[at] if at < len(expected) else "(end)"
            print(f"check-against {args.check_against}: FAIL, first difference at index {at}: "
                  f"generated {got}, expected {want} ({len(ids)} vs {len(expected)} ids)")
            return 1
        print(f"check-against {args.check_against}: identical ({len(ids)} ids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

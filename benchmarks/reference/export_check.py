#!/usr/bin/env python3
"""Independent check of the Hugging Face export (GPT-2 safetensors layout) against the Java model's logits.

Each argument is a case directory written by dev.mtpspark.bench.ExportCheckDump:
  <case>/export/        the exported model directory: config.json, model.safetensors, mtp_heads.safetensors (n >= 2)
  <case>/expected.npz   ids [B, T] (int) and logits [B, n, T, V] (float32): the Java model's logits per head

For each case the safetensors files are parsed from their bytes (no safetensors package) and validated strictly
(header length, JSON, known dtype, shape x dtype size == data_offsets span, the offsets tile the buffer exactly,
the expected tensor names and shapes, nothing extra), config.json is checked for consistency with the tensors,
and a forward pass written here from the layout (not from the Java code) computes every head's logits for the
ids: head 1 from model.safetensors + config.json, heads 2..n from mtp_heads.safetensors. A case passes when
max |torch - java| <= 1e-5 * max(1, max |java logit|) over all its heads. The forward runs in float64 by default
(the weights are float32; --dtype float32 runs it in float32).

Usage: export_check.py CASE_DIR... [--rtol 1e-5] [--dtype float64|float32]
       export_check.py --self-test     (synthetic models: reader, validation and forward checked on their own)
Exits 1 when any case fails.
"""
import argparse
import contextlib
import io
import json
import math
import os
import struct
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ----------------------------------------------------------------------------------------------------------------
# safetensors reader

LOADABLE_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
# The other dtypes of the safetensors spec: known, so reported as unsupported rather than unknown.
OTHER_DTYPES = {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32", "U64", "I64", "F8_E4M3", "F8_E5M2"}
MAX_HEADER_BYTES = 100_000_000   # the limit of the reference implementation


class CheckError(Exception):
    """A case does not meet the export's contract (format, names, shapes, config)."""


class SafetensorsError(CheckError):
    """A file is not a valid safetensors file (or uses a dtype this checker does not load)."""


def _unique_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise SafetensorsError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def parse_safetensors(data, what="<bytes>"):
    """Parses and validates a whole safetensors file given as bytes.

    Returns (tensors, dtypes, metadata): name -> numpy array (native byte order, a copy), name -> dtype string,
    and the "__metadata__" object (or None). Raises SafetensorsError on any violation of the format."""
    def fail(message):
        raise SafetensorsError(f"{what}: {message}")

    size = len(data)
    if size < 8:
        fail(f"{size} bytes: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n == 0:
        fail("header length is 0")
    if n > MAX_HEADER_BYTES:
        fail(f"header length {n} exceeds {MAX_HEADER_BYTES}")
    if 8 + n > size:
        fail(f"header length {n} runs past the end of the {size}-byte file")
    raw = bytes(data[8:8 + n])
    if raw[:1] != b"{":
        fail(f"header does not start with '{{' (starts with {raw[:1]!r})")
    body = raw.rstrip(b" ")   # the spec allows right-padding with spaces (0x20), nothing else
    if not body.endswith(b"}"):
        fail(f"header is not one JSON object right-padded with spaces (ends with {raw[-4:]!r})")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"header is not UTF-8: {e}")
    try:
        header = json.loads(text, object_pairs_hook=_unique_keys)
    except SafetensorsError as e:
        fail(str(e))
    except ValueError as e:
        fail(f"header is not valid JSON: {e}")
    if not isinstance(header, dict):
        fail("header JSON is not an object")

    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in metadata.items()):
            fail(f"__metadata__ must map strings to strings, got {metadata!r}")

    buffer_len = size - 8 - n
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets, got {info!r}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in LOADABLE_DTYPES:
            if dtype in OTHER_DTYPES:
                fail(f"tensor {name!r}: dtype {dtype} is valid safetensors but not F32/F64")
            fail(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            fail(f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            fail(f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}")
        count = math.prod(shape)
        nbytes = count * LOADABLE_DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != nbytes:
            fail(f"tensor {name!r}: shape {shape} of {dtype} is {nbytes} bytes but data_offsets {offsets} span "
                 f"{offsets[1] - offsets[0]}")
        entries.append((offsets[0], offsets[1], name, dtype, shape, count))

    entries.sort(key=lambda e: (e[0], e[1]))
    position, previous = 0, None
    for begin, end, name, _, _, _ in entries:
        if begin < position:
            fail(f"tensor {name!r} [{begin}, {end}) overlaps {previous!r} (which ends at {position})")
        if begin > position:
            fail(f"hole in the buffer: bytes [{position}, {begin}) before {name!r} belong to no tensor")
        position, previous = end, name
    if position > buffer_len:
        fail(f"tensors need {position} buffer bytes, the file has {buffer_len} after the header "
             f"(8 + {n} + {position} != {size})")
    if position < buffer_len:
        fail(f"{buffer_len - position} trailing bytes after the last tensor (8 + {n} + {position} != {size})")

    base = 8 + n
    tensors, dtypes = {}, {}
    for begin, _, name, dtype, shape, count in entries:
        dt = LOADABLE_DTYPES[dtype]
        if count == 0:
            array = np.zeros(shape, dtype=dt.newbyteorder("="))
        else:
            array = np.frombuffer(data, dtype=dt, count=count, offset=base + begin).reshape(shape)
            array = array.astype(dt.newbyteorder("="), copy=True)
        tensors[name], dtypes[name] = array, dtype
    return tensors, dtypes, metadata


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    return parse_safetensors(data, os.path.basename(path))


# ----------------------------------------------------------------------------------------------------------------
# config.json

HEAD_KINDS = ("parallel", "sequential", "linear")
NORMS = ("layer_norm", "rms_norm")
POSITIONS = ("learned", "rope")


class Arch:
    """What the forward pass needs, read from config.json and checked for consistency."""

    def __init__(self, cfg):
        def need(obj, key, kind, where="config.json"):
            if key not in obj:
                raise CheckError(f"{where}: missing {key!r}")
            value = obj[key]
            if kind is int:
                ok = _is_int(value)
            elif kind is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok = isinstance(value, kind)
            if not ok:
                raise CheckError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
            return value

        self.warnings = []
        self.model_type = need(cfg, "model_type", str)
        self.V = need(cfg, "vocab_size", int)
        self.T = need(cfg, "n_positions", int)
        self.d = need(cfg, "n_embd", int)
        self.n_layer = need(cfg, "n_layer", int)
        self.H = need(cfg, "n_head", int)
        inner = cfg.get("n_inner")
        if inner is None:
            self.m = 4 * self.d
            self.warnings.append("n_inner is null (GPT-2 default 4 * n_embd)")
        elif _is_int(inner):
            self.m = inner
        else:
            raise CheckError(f"config.json: n_inner must be an integer or null, got {inner!r}")
        self.eps = float(need(cfg, "layer_norm_epsilon", float))
        mtp = need(cfg, "mtp", dict)
        self.n = need(mtp, "predicted_tokens", int, "config.json mtp")
        self.head = need(mtp, "head_architecture", str, "config.json mtp")
        self.L = need(mtp, "trunk_layers", int, "config.json mtp")
        self.norm = need(mtp, "norm", str, "config.json mtp")
        self.pos = need(mtp, "position_encoding", str, "config.json mtp")
        self.rope_base = float(need(mtp, "rope_base", float, "config.json mtp"))
        weights = need(mtp, "loss_weights", list, "config.json mtp")

        problems = []
        if self.head not in HEAD_KINDS:
            problems.append(f"mtp.head_architecture {self.head!r} is not one of {HEAD_KINDS}")
        if self.norm not in NORMS:
            problems.append(f"mtp.norm {self.norm!r} is not one of {NORMS}")
        if self.pos not in POSITIONS:
            problems.append(f"mtp.position_encoding {self.pos!r} is not one of {POSITIONS}")
        for key, value in (("vocab_size", self.V), ("n_positions", self.T), ("n_embd", self.d), ("n_head", self.H),
                           ("n_inner", self.m), ("mtp.predicted_tokens", self.n), ("mtp.trunk_layers", self.L)):
            if value < 1:
                problems.append(f"{key} = {value} must be >= 1")
        if self.H >= 1 and self.d % self.H:
            problems.append(f"n_embd {self.d} is not a multiple of n_head {self.H}")
        self.hd = self.d // self.H if self.H >= 1 else 0
        if self.pos == "rope" and self.hd % 2:
            problems.append(f"rotary positions need an even head width, got {self.hd}")
        want_layers = self.L + 1 if self.head == "parallel" else self.L
        if self.n_layer != want_layers:
            problems.append(f"n_layer {self.n_layer} != {want_layers} for {self.head} heads with "
                            f"{self.L} trunk layers")
        if len(weights) != self.n or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
            problems.append(f"mtp.loss_weights {weights!r} is not a list of {self.n} numbers")
        gpt2_expressible = self.norm == "layer_norm" and self.pos == "learned" and self.head != "linear"
        want_type = "gpt2" if gpt2_expressible else "mtp_spark"
        if self.model_type != want_type:
            problems.append(f"model_type {self.model_type!r}, expected {want_type!r} for "
                            f"{self.head}/{self.norm}/{self.pos}")
        if cfg.get("activation_function") != "gelu_new":
            problems.append(f"activation_function {cfg.get('activation_function')!r} != 'gelu_new'")
        if cfg.get("tie_word_embeddings") is not False:
            problems.append(f"tie_word_embeddings {cfg.get('tie_word_embeddings')!r} must be false")
        if "n_ctx" in cfg and cfg["n_ctx"] != self.T:
            problems.append(f"n_ctx {cfg['n_ctx']!r} != n_positions {self.T}")
        for key, value in cfg.items():
            if (key.endswith("pdrop") or key.endswith("dropout")) and value not in (0, 0.0):
                problems.append(f"{key} = {value!r}, dropout must be 0")
        for key in ("bos_token_id", "eos_token_id"):
            if cfg.get(key) is None:   # GPT-2 allows null (no such token)
                self.warnings.append(f"{key} is {'null' if key in cfg else 'absent'}")
            elif not (_is_int(cfg[key]) and 0 <= cfg[key] < self.V):
                problems.append(f"{key} {cfg[key]!r} is not a token id in [0, {self.V})")
        # GPT-2 options that would change the attention's arithmetic in transformers' implementation.
        if cfg.get("scale_attn_weights", True) is not True:
            problems.append(f"scale_attn_weights {cfg['scale_attn_weights']!r}: attention is scaled by 1/sqrt(head width)")
        if cfg.get("scale_attn_by_inverse_layer_idx", False) is not False:
            problems.append("scale_attn_by_inverse_layer_idx must be false")
        arch = cfg.get("architectures")
        if not isinstance(arch, list) or not all(isinstance(a, str) for a in arch):
            problems.append(f"architectures {arch!r} is not a list of strings")
        elif self.model_type == "gpt2" and "GPT2LMHeadModel" not in arch:
            self.warnings.append(f"architectures {arch} does not name GPT2LMHeadModel")
        if problems:
            raise CheckError("config.json: " + "; ".join(problems))

    def describe(self):
        return f"{self.head}/{self.norm}/{self.pos}"


def _block_shapes(prefix, a):
    d, m = a.d, a.m
    shapes = {prefix + "ln_1.weight": [d]}
    if a.norm == "layer_norm":
        shapes[prefix + "ln_1.bias"] = [d]
    shapes.update({prefix + "attn.c_attn.weight": [d, 3 * d], prefix + "attn.c_attn.bias": [3 * d],
                   prefix + "attn.c_proj.weight": [d, d], prefix + "attn.c_proj.bias": [d],
                   prefix + "ln_2.weight": [d]})
    if a.norm == "layer_norm":
        shapes[prefix + "ln_2.bias"] = [d]
    shapes.update({prefix + "mlp.c_fc.weight": [d, m], prefix + "mlp.c_fc.bias": [m],
                   prefix + "mlp.c_proj.weight": [m, d], prefix + "mlp.c_proj.bias": [d]})
    return shapes


def _norm_shapes(prefix, a):
    shapes = {prefix + ".weight": [a.d]}
    if a.norm == "layer_norm":
        shapes[prefix + ".bias"] = [a.d]
    return shapes


def expected_shapes(a):
    """(model.safetensors, mtp_heads.safetensors) as name -> shape dicts; the second is None when n == 1."""
    main = {"transformer.wte.weight": [a.V, a.d]}
    if a.pos == "learned":
        main["transformer.wpe.weight"] = [a.T, a.d]
    for i in range(a.n_layer):
        main.update(_block_shapes(f"transformer.h.{i}.", a))
    if a.head == "linear":
        main.update({"transformer.linear_head.weight": [a.d, a.d], "transformer.linear_head.bias": [a.d]})
    main.update(_norm_shapes("transformer.ln_f", a))
    main["lm_head.weight"] = [a.V, a.d]
    if a.n == 1:
        return main, None
    heads = {}
    for k in range(2, a.n + 1):
        p = f"heads.{k}."
        if a.head == "linear":
            heads.update({p + "linear.weight": [a.d, a.d], p + "linear.bias": [a.d]})
            continue
        if a.head == "sequential":
            heads.update(_norm_shapes(p + "hidden_norm", a))
            heads.update(_norm_shapes(p + "embedding_norm", a))
            heads[p + "projection.weight"] = [2 * a.d, a.d]
        heads.update(_block_shapes(p, a))
    return main, heads


def check_tensors(file_name, tensors, dtypes, want):
    problems = []
    missing = sorted(set(want) - set(tensors))
    extra = sorted(set(tensors) - set(want))
    if missing:
        problems.append(f"missing {missing}")
    if extra:
        problems.append(f"unexpected {extra}")
    for name in sorted(set(want) & set(tensors)):
        if list(tensors[name].shape) != want[name]:
            problems.append(f"{name} has shape {list(tensors[name].shape)}, expected {want[name]}")
        if dtypes[name] != "F32":
            problems.append(f"{name} is {dtypes[name]}, the export writes F32")
    if problems:
        raise CheckError(f"{file_name}: " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------------------------
# forward pass (torch, batched), written from the layout

class ExportedModel:
    def __init__(self, arch, tensors, dtype=torch.float64):
        self.a = arch
        self.dtype = dtype
        self.p = {name: torch.from_numpy(np.asarray(t, dtype=np.float64)).to(dtype) for name, t in tensors.items()}

    def _norm(self, x, prefix):
        w = self.p[prefix + ".weight"]
        if self.a.norm == "layer_norm":
            return F.layer_norm(x, (self.a.d,), w, self.p[prefix + ".bias"], self.a.eps)
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.a.eps) * w

    def _rope_tables(self, T):
        half = self.a.hd // 2
        inv = self.a.rope_base ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.a.hd)
        angle = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]   # [T, hd/2]
        return torch.cos(angle).to(self.dtype), torch.sin(angle).to(self.dtype)

    @staticmethod
    def _rotate(x, cos, sin):   # x [B, H, T, hd], rotate-half pairs (i, i + hd/2)
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def _block(self, x, prefix, rope):
        a, p = self.a, self.p
        B, T, d = x.shape
        qkv = self._norm(x, prefix + "ln_1") @ p[prefix + "attn.c_attn.weight"] + p[prefix + "attn.c_attn.bias"]
        q, k, v = (t.reshape(B, T, a.H, a.hd).transpose(1, 2) for t in qkv.split(d, dim=-1))
        if rope is not None:
            q, k = self._rotate(q, *rope), self._rotate(k, *rope)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(a.hd)
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v
        att = att.transpose(1, 2).reshape(B, T, d)
        x = x + att @ p[prefix + "attn.c_proj.weight"] + p[prefix + "attn.c_proj.bias"]
        hidden = self._norm(x, prefix + "ln_2") @ p[prefix + "mlp.c_fc.weight"] + p[prefix + "mlp.c_fc.bias"]
        return x + F.gelu(hidden, approximate="tanh") @ p[prefix + "mlp.c_proj.weight"] + p[prefix + "mlp.c_proj.bias"]

    def hidden_states(self, ids):
        """The final hidden state (before ln_f) of every head: a list of n tensors [B, T, d]."""
        a, p = self.a, self.p
        B, T = ids.shape
        wte = p["transformer.wte.weight"]
        x = wte[ids]
        if a.pos == "learned":
            x = x + p["transformer.wpe.weight"][:T]
        rope = self._rope_tables(T) if a.pos == "rope" else None
        for i in range(a.L):
            x = self._block(x, f"transformer.h.{i}.", rope)
        z = x
        if a.head == "parallel":
            hs = [self._block(z, f"transformer.h.{a.L}.", rope)]
            hs += [self._block(z, f"heads.{k}.", rope) for k in range(2, a.n + 1)]
        elif a.head == "linear":
            hs = [z @ p["transformer.linear_head.weight"] + p["transformer.linear_head.bias"]]
            hs += [z @ p[f"heads.{k}.linear.weight"] + p[f"heads.{k}.linear.bias"] for k in range(2, a.n + 1)]
        else:
            hs = [z]
            padded = torch.cat([ids, torch.zeros(B, a.n, dtype=ids.dtype)], dim=1)
            for k in range(2, a.n + 1):
                ahead = padded[:, k - 1:k - 1 + T]   # x_{t+k-1}, 0 beyond T-1
                u = torch.cat([self._norm(hs[-1], f"heads.{k}.hidden_norm"),
                               self._norm(wte[ahead], f"heads.{k}.embedding_norm")], dim=-1)
                hs.append(self._block(u @ p[f"heads.{k}.projection.weight"], f"heads.{k}.", rope))
        return hs

    def logits(self, ids):
        """[B, n, T, V] logits of every head."""
        unembed = self.p["lm_head.weight"]
        return torch.stack([self._norm(h, "transformer.ln_f") @ unembed.T for h in self.hidden_states(ids)], dim=1)


# ----------------------------------------------------------------------------------------------------------------
# one case

def _load_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"), object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise CheckError(f"no {path}")
    except (UnicodeDecodeError, ValueError, SafetensorsError) as e:
        raise CheckError(f"{os.path.basename(path)} is not valid JSON: {e}")


def load_export(export_dir):
    """Reads and validates an export directory; returns (Arch, name -> numpy array of all tensors)."""
    cfg = _load_json(os.path.join(export_dir, "config.json"))
    if not isinstance(cfg, dict):
        raise CheckError("config.json is not a JSON object")
    arch = Arch(cfg)
    want_main, want_heads = expected_shapes(arch)
    main_path = os.path.join(export_dir, "model.safetensors")
    heads_path = os.path.join(export_dir, "mtp_heads.safetensors")
    if not os.path.isfile(main_path):
        raise CheckError("no model.safetensors")
    tensors, dtypes, _ = read_safetensors(main_path)
    check_tensors("model.safetensors", tensors, dtypes, want_main)
    if want_heads is None:
        if os.path.exists(heads_path):
            raise CheckError("mtp_heads.safetensors present although n = 1")
    else:
        if not os.path.isfile(heads_path):
            raise CheckError(f"no mtp_heads.safetensors although n = {arch.n}")
        heads, head_dtypes, _ = read_safetensors(heads_path)
        check_tensors("mtp_heads.safetensors", heads, head_dtypes, want_heads)
        tensors.update(heads)   # names are disjoint (transformer.* / lm_head.* vs heads.*)
    return arch, tensors


def load_expected(case_dir, arch):
    path = os.path.join(case_dir, "expected.npz")
    if not os.path.isfile(path):
        raise CheckError("no expected.npz")
    with np.load(path) as z:
        if "ids" not in z.files or "logits" not in z.files:
            raise CheckError(f"expected.npz holds {z.files}, needs ids and logits")
        ids, logits = z["ids"], z["logits"]
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise CheckError(f"ids must be an integer array [B, T], got {ids.dtype} {list(ids.shape)}")
    B, T = ids.shape
    if B < 1 or T < 1 or T > arch.T:
        raise CheckError(f"ids [B, T] = {list(ids.shape)}: need B, T >= 1 and T <= n_positions {arch.T}")
    if ids.min() < 0 or ids.max() >= arch.V:
        raise CheckError(f"ids outside [0, {arch.V}): min {ids.min()}, max {ids.max()}")
    if list(logits.shape) != [B, arch.n, T, arch.V]:
        raise CheckError(f"logits has shape {list(logits.shape)}, expected [B, n, T, V] = {[B, arch.n, T, arch.V]}")
    if not np.issubdtype(logits.dtype, np.floating):
        raise CheckError(f"logits dtype {logits.dtype} is not floating point")
    if not np.all(np.isfinite(logits)):
        raise CheckError("expected logits contain NaN or infinity")
    return ids.astype(np.int64), logits


def check_case(case_dir, rtol=1e-5, dtype=torch.float64):
    """Returns a result dict: name, ok, line (the report line); raises nothing for a failing case."""
    name = os.path.basename(os.path.normpath(case_dir))
    try:
        arch, tensors = load_export(os.path.join(case_dir, "export"))
        ids, java = load_expected(case_dir, arch)
        with torch.no_grad():
            ours = ExportedModel(arch, tensors, dtype).logits(torch.from_numpy(ids)).to(torch.float64).numpy()
        java = java.astype(np.float64)
        if not np.all(np.isfinite(ours)):
            raise CheckError("the forward pass gave NaN or infinity")
        diff = np.abs(ours - java).max(axis=(0, 2, 3))   # per head
        tol = rtol * max(1.0, float(np.abs(java).max()))
        ok = bool(np.all(diff <= tol))
        heads = " ".join(f"h{k + 1}={diff[k]:.2e}" for k in range(arch.n))
        line = (f"{name}: n={arch.n} {arch.describe()} model_type={arch.model_type} B={ids.shape[0]} "
                f"T={ids.shape[1]} V={arch.V}  max|diff| {heads} (tol {tol:.2e})  {'PASS' if ok else 'FAIL'}")
        if arch.warnings:
            line += "  [" + "; ".join(arch.warnings) + "]"
        return {"name": name, "ok": ok, "line": line, "diff": diff, "tol": tol}
    except CheckError as e:
        return {"name": name, "ok": False, "line": f"{name}: FAIL  {e}"}
    except Exception as e:   # a bug or an unreadable file: report it as this case's failure, go on with the rest
        return {"name": name, "ok": False, "line": f"{name}: FAIL  {type(e).__name__}: {e}"}


# ----------------------------------------------------------------------------------------------------------------
# self-test: synthetic models through a tiny writer, a naive per-position numpy forward as the second opinion

def _st_bytes(header, buffer, pad_to=8, padding=b" "):
    text = json.dumps(header).encode("utf-8")
    text += padding * ((-(8 + len(text))) % pad_to)
    return struct.pack("<Q", len(text)) + text + buffer


def _st_write(tensors, metadata=None, reverse_buffer=False, pad_to=8):
    """Tiny safetensors writer, for the self-test only: name -> float32/float64 array."""
    header, chunks, offset = {}, [], 0
    items = list(tensors.items())
    for name, array in (reversed(items) if reverse_buffer else items):
        array = np.asarray(array)   # (not ascontiguousarray: it makes a 0-d array 1-d); tobytes() is row-major
        code = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}[array.dtype]
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    if reverse_buffer:   # JSON order differs from buffer order
        header = dict(reversed(list(header.items())))
    return _st_bytes(header, b"".join(chunks), pad_to)


def _gelu(u):
    return 0.5 * u * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u ** 3)))


class _Naive:
    """Straightforward per-position forward in numpy float64 with scalar loops; shares no code with ExportedModel."""

    def __init__(self, arch, tensors):
        self.a = arch
        self.p = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}

    def norm(self, x, prefix):
        d, w = len(x), self.p[prefix + ".weight"]
        if self.a.norm == "layer_norm":
            mean = sum(x) / d
            var = sum((xi - mean) ** 2 for xi in x) / d
            return np.array([(x[i] - mean) / math.sqrt(var + self.a.eps) * w[i] + self.p[prefix + ".bias"][i]
                             for i in range(d)])
        rms = math.sqrt(sum(xi * xi for xi in x) / d + self.a.eps)
        return np.array([x[i] / rms * w[i] for i in range(d)])

    def rope(self, x, t):
        hd = len(x)
        half = hd // 2
        y = np.array(x, dtype=np.float64)
        for i in range(half):
            angle = t * self.a.rope_base ** (-2.0 * i / hd)
            c, s = math.cos(angle), math.sin(angle)
            y[i] = x[i] * c - x[i + half] * s
            y[i + half] = x[i + half] * c + x[i] * s
        return y

    def block(self, xs, prefix):
        a, p = self.a, self.p
        T, d, hd = len(xs), a.d, a.hd
        qkv = [self.norm(x, prefix + "ln_1") @ p[prefix + "attn.c_attn.weight"] + p[prefix + "attn.c_attn.bias"]
               for x in xs]

        def piece(t, which, h):   # which: 0 = Q, 1 = K, 2 = V; head h
            v = qkv[t][which * d + h * hd: which * d + (h + 1) * hd]
            return self.rope(v, t) if a.pos == "rope" and which < 2 else v

        out = []
        for t in range(T):
            heads = []
            for h in range(a.H):
                q = piece(t, 0, h)
                scores = [sum(q[i] * piece(s, 1, h)[i] for i in range(hd)) / math.sqrt(hd) for s in range(t + 1)]
                top = max(scores)
                w = [math.exp(sc - top) for sc in scores]
                total = sum(w)
                heads.append(sum(w[s] / total * piece(s, 2, h) for s in range(t + 1)))
            x = xs[t] + np.concatenate(heads) @ p[prefix + "attn.c_proj.weight"] + p[prefix + "attn.c_proj.bias"]
            hidden = self.norm(x, prefix + "ln_2") @ p[prefix + "mlp.c_fc.weight"] + p[prefix + "mlp.c_fc.bias"]
            act = np.array([_gelu(u) for u in hidden])
            out.append(x + act @ p[prefix + "mlp.c_proj.weight"] + p[prefix + "mlp.c_proj.bias"])
        return out

    def logits(self, ids):
        a, p = self.a, self.p
        B, T = ids.shape
        out = np.zeros((B, a.n, T, a.V))
        for b in range(B):
            seq = [int(v) for v in ids[b]]
            xs = [p["transformer.wte.weight"][tok] + (p["transformer.wpe.weight"][t] if a.pos == "learned" else 0.0)
                  for t, tok in enumerate(seq)]
            for i in range(a.L):
                xs = self.block(xs, f"transformer.h.{i}.")
            z = xs
            if a.head == "parallel":
                hs = [self.block(z, f"transformer.h.{a.L}.")] + [self.block(z, f"heads.{k}.") for k in range(2, a.n + 1)]
            elif a.head == "linear":
                hs = [[v @ p["transformer.linear_head.weight"] + p["transformer.linear_head.bias"] for v in z]]
                hs += [[v @ p[f"heads.{k}.linear.weight"] + p[f"heads.{k}.linear.bias"] for v in z]
                       for k in range(2, a.n + 1)]
            else:
                hs = [z]
                for k in range(2, a.n + 1):
                    mixed = []
                    for t in range(T):
                        tok = seq[t + k - 1] if t + k - 1 < T else 0
                        u = np.concatenate([self.norm(hs[-1][t], f"heads.{k}.hidden_norm"),
                                            self.norm(p["transformer.wte.weight"][tok], f"heads.{k}.embedding_norm")])
                        mixed.append(u @ p[f"heads.{k}.projection.weight"])
                    hs.append(self.block(mixed, f"heads.{k}."))
            for k, h in enumerate(hs):
                for t in range(T):
                    out[b, k, t] = p["lm_head.weight"] @ self.norm(h[t], "transformer.ln_f")
        return out


def _synthetic_config(head, norm, pos, n, V=13, d=8, H=2, m=12, L=2, T=7):
    gpt2 = norm == "layer_norm" and pos == "learned" and head != "linear"
    return {
        "model_type": "gpt2" if gpt2 else "mtp_spark",
        "architectures": ["GPT2LMHeadModel"] if gpt2 else ["MtpSparkForCausalLM"],
        "vocab_size": V, "n_positions": T, "n_ctx": T, "n_embd": d, "n_layer": L + 1 if head == "parallel" else L,
        "n_head": H, "n_inner": m, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": False, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
        "bos_token_id": 0, "eos_token_id": 0,
        "mtp": {"predicted_tokens": n, "head_architecture": head, "trunk_layers": L, "norm": norm,
                "position_encoding": pos, "rope_base": 10000, "loss_weights": [1.0] * n},
    }


def _synthetic_weights(arch, rng):
    main, heads = expected_shapes(arch)
    out = {}
    for name, shape in list(main.items()) + list((heads or {}).items()):
        if name.endswith("norm.weight") or ".ln_" in name and name.endswith(".weight"):
            value = 1.0 + 0.2 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            value = 0.1 * rng.standard_normal(shape)
        elif "wte" in name or "wpe" in name:
            value = 0.8 * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape) / math.sqrt(shape[0]) * 1.2
        out[name] = value.astype(np.float32)
    return out


def _write_case(root, name, cfg, weights, ids, logits, arch):
    case = os.path.join(root, name)
    export = os.path.join(case, "export")
    os.makedirs(export)
    with open(os.path.join(export, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    want_main, want_heads = expected_shapes(arch)
    with open(os.path.join(export, "model.safetensors"), "wb") as f:
        f.write(_st_write({k: weights[k] for k in want_main}, {"format": "pt"}))
    if want_heads:
        with open(os.path.join(export, "mtp_heads.safetensors"), "wb") as f:
            f.write(_st_write({k: weights[k] for k in want_heads}, {"format": "pt"}))
    np.savez(os.path.join(case, "expected.npz"), ids=ids, logits=logits.astype(np.float32))
    return case


def _reader_tests():
    """Round trips and corrupt files; returns the number of checks done."""
    rng = np.random.default_rng(1)
    checks = 0
    tensors = {"a": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(5),
               "scalar": np.array(2.5, dtype=np.float32), "empty": np.zeros((0, 3), dtype=np.float32),
               "c": rng.standard_normal((2, 1, 3)).astype(np.float32)}
    for reverse in (False, True):
        for pad in (1, 8, 64):
            for meta in (None, {"format": "pt"}):
                got, dtypes, got_meta = parse_safetensors(_st_write(tensors, meta, reverse, pad))
                assert got_meta == meta, (got_meta, meta)
                assert set(got) == set(tensors)
                for k, v in tensors.items():
                    assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), k
                    assert dtypes[k] == ("F64" if v.dtype == np.float64 else "F32")
                checks += 1

    good = {"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "y": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}
    buf = bytes(range(24))
    parse_safetensors(_st_bytes(good, buf))

    def variant(**changes):
        h = json.loads(json.dumps(good))
        for name, entry in changes.items():
            if entry is None:
                del h[name]
            else:
                h[name] = entry
        return _st_bytes(h, buf)

    header = json.dumps(good).encode()
    bad = {
        "short file": b"\x01\x00\x00",
        "zero header length": struct.pack("<Q", 0) + buf,
        "header past end": struct.pack("<Q", 10_000) + header + buf,
        "header too large": struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}",
        "leading space": struct.pack("<Q", len(header) + 1) + b" " + header + buf,
        "NUL padding": _st_bytes(good, buf, pad_to=64, padding=b"\x00"),
        "newline padding": _st_bytes(good, buf, pad_to=64, padding=b"\n"),
        "not JSON": struct.pack("<Q", 5) + b"{abc}" + buf,
        "JSON array": struct.pack("<Q", 2) + b"[]" + buf,
        "bad UTF-8": struct.pack("<Q", 4) + b'{"\xff' + buf,
        "duplicate name": (lambda t: struct.pack("<Q", len(t)) + t + buf)(
            b'{"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, '
            b'"x": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}'),
        "unknown dtype": variant(y={"dtype": "F31", "shape": [1], "data_offsets": [16, 24]}),
        "F16 unsupported": variant(y={"dtype": "F16", "shape": [4], "data_offsets": [16, 24]}),
        "shape/span mismatch": variant(x={"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}),
        "hole": variant(x={"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}),
        "hole at start": variant(x={"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}),
        "overlap": variant(y={"dtype": "F64", "shape": [1], "data_offsets": [12, 20]},
                           z={"dtype": "F32", "shape": [1], "data_offsets": [20, 24]}),
        "trailing bytes": _st_bytes(good, buf + b"\x00" * 8),
        "buffer too short": _st_bytes(good, buf[:20]),
        "end < begin": variant(y={"dtype": "F64", "shape": [0], "data_offsets": [24, 16]}),
        "negative dim": variant(y={"dtype": "F64", "shape": [-1], "data_offsets": [16, 24]}),
        "boolean dim": variant(y={"dtype": "F64", "shape": [True], "data_offsets": [16, 24]}),
        "extra entry key": variant(y={"dtype": "F64", "shape": [1], "data_offsets": [16, 24], "x": 1}),
        "missing shape": variant(y={"dtype": "F64", "data_offsets": [16, 24]}),
        "three offsets": variant(y={"dtype": "F64", "shape": [1], "data_offsets": [16, 24, 24]}),
        "metadata not strings": variant(__metadata__={"format": 1}),
        "metadata not object": variant(__metadata__="pt"),
    }
    for what, data in bad.items():
        try:
            parse_safetensors(data, what)
        except SafetensorsError:
            checks += 1
            continue
        raise AssertionError(f"reader accepted a corrupt file: {what}")
    return checks


def self_test():
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    checks = _reader_tests()
    print(f"self-test: safetensors reader: {checks} round trips and rejections OK")

    with tempfile.TemporaryDirectory(prefix="export-check-") as root:
        cases, worst_impl = [], 0.0
        variants = [(h, nm, ps, n) for h in HEAD_KINDS for nm, ps in
                    (("layer_norm", "learned"), ("rms_norm", "rope"), ("layer_norm", "rope"), ("rms_norm", "learned"))
                    for n in (1, 3)]
        for head, norm, pos, n in variants:
            cfg = _synthetic_config(head, norm, pos, n)
            arch = Arch(cfg)
            weights = _synthetic_weights(arch, rng)
            ids = rng.integers(0, arch.V, size=(2, arch.T))
            ids[0, -2:] = 0   # token 0 inside the window too
            naive = _Naive(arch, weights).logits(ids)
            with torch.no_grad():
                fast = ExportedModel(arch, weights).logits(torch.from_numpy(ids)).numpy()
            rel = np.abs(fast - naive).max() / max(1.0, np.abs(naive).max())
            assert rel < 1e-11, f"{head}/{norm}/{pos} n={n}: vectorised and naive forward differ by {rel:.2e}"
            worst_impl = max(worst_impl, rel)
            spread = naive.std(axis=-1).mean()
            assert spread > 0.1, f"{head}/{norm}/{pos}: degenerate synthetic logits (std {spread:.3f})"
            if n > 1:   # the heads really differ from head 1
                assert np.abs(naive[:, 1:] - naive[:, :1]).max() > 0.1
            name = f"{head}-{norm}-{pos}-n{n}"
            cases.append((name, cfg, arch, weights, ids, naive,
                          _write_case(root, name, cfg, weights, ids, naive, arch)))
        print(f"self-test: batched torch forward vs naive per-position loop: {len(variants)} variants, "
              f"max relative difference {worst_impl:.1e}")

        for dtype in (torch.float64, torch.float32):
            for name, *_, case in cases:
                result = check_case(case, dtype=dtype)
                assert result["ok"], f"{dtype}: {result['line']}"
        print(f"self-test: check_case passes all {len(cases)} synthetic cases (float64 and float32 forward), e.g.")
        print("    " + check_case(cases[0][-1])["line"])
        print("    " + check_case(cases[-1][-1])["line"])

        # Cases that must fail.
        def expect_fail(label, case_dir, needle):
            result = check_case(case_dir)
            assert not result["ok"], f"{label}: accepted ({result['line']})"
            assert needle in result["line"], f"{label}: failed for another reason: {result['line']}"
            return 1

        failures = 0
        by_name = {c[0]: c for c in cases}

        def mutate(src, label, weights_fn=None, cfg_fn=None, logits_fn=None, extra=None):
            name, cfg, arch, weights, ids, logits, _ = by_name[src]
            cfg = json.loads(json.dumps(cfg))
            weights = dict(weights)
            logits = logits.copy()
            if weights_fn:
                weights_fn(weights)
            if cfg_fn:
                cfg_fn(cfg)
            if logits_fn:
                logits_fn(logits)
            case = os.path.join(root, "bad-" + label.replace(" ", "-"))
            export = os.path.join(case, "export")
            os.makedirs(export)
            with open(os.path.join(export, "config.json"), "w") as f:
                json.dump(cfg, f)
            want_main, want_heads = expected_shapes(arch)
            main = {k: weights[k] for k in want_main if k in weights}
            heads = {k: weights[k] for k in (want_heads or {}) if k in weights}
            if extra:
                extra(main, heads)
            with open(os.path.join(export, "model.safetensors"), "wb") as f:
                f.write(_st_write(main, {"format": "pt"}))
            if heads:
                with open(os.path.join(export, "mtp_heads.safetensors"), "wb") as f:
                    f.write(_st_write(heads, {"format": "pt"}))
            np.savez(os.path.join(case, "expected.npz"), ids=ids, logits=logits.astype(np.float32))
            return case

        def bump(logits, k):
            logits[1, k, 3, 2] += 1e-3 * max(1.0, np.abs(logits).max())

        failures += expect_fail("head 1 logit off", mutate("parallel-layer_norm-learned-n3", "h1",
                                                           logits_fn=lambda lg: bump(lg, 0)), "max|diff|")
        failures += expect_fail("head 3 logit off", mutate("sequential-rms_norm-rope-n3", "h3",
                                                           logits_fn=lambda lg: bump(lg, 2)), "max|diff|")

        def swap_qk(w):
            c = w["transformer.h.0.attn.c_attn.weight"].copy()
            d = c.shape[0]
            c[:, :d], c[:, d:2 * d] = c[:, d:2 * d].copy(), c[:, :d].copy()
            w["transformer.h.0.attn.c_attn.weight"] = c

        failures += expect_fail("Q and K swapped", mutate("parallel-layer_norm-learned-n1", "qk", weights_fn=swap_qk),
                                "max|diff|")

        def transpose_fc(w):   # [out, in] instead of Conv1D's [in, out] for a square matrix
            w["transformer.h.1.attn.c_proj.weight"] = np.ascontiguousarray(w["transformer.h.1.attn.c_proj.weight"].T)

        failures += expect_fail("c_proj transposed", mutate("linear-layer_norm-rope-n3", "tr", weights_fn=transpose_fc),
                                "max|diff|")
        failures += expect_fail("missing tensor", mutate("parallel-layer_norm-learned-n3", "missing",
                                                         weights_fn=lambda w: w.pop("heads.3.ln_2.bias")), "missing")
        failures += expect_fail("extra tensor", mutate("linear-rms_norm-rope-n1", "extra",
                                                       extra=lambda m, h: m.update(
                                                           {"transformer.wpe.weight": np.zeros((7, 8), np.float32)})),
                                "unexpected")
        failures += expect_fail("F64 tensor", mutate("sequential-layer_norm-learned-n1", "f64",
                                                     weights_fn=lambda w: w.update(
                                                         {"lm_head.weight": w["lm_head.weight"].astype(np.float64)})),
                                "F32")
        failures += expect_fail("wrong shape", mutate("parallel-rms_norm-rope-n3", "shape",
                                                      weights_fn=lambda w: w.update(
                                                          {"heads.2.mlp.c_fc.bias": np.zeros(11, np.float32)})),
                                "shape")
        failures += expect_fail("model_type", mutate("parallel-rms_norm-learned-n1", "type",
                                                     cfg_fn=lambda c: c.update(model_type="gpt2")), "model_type")
        failures += expect_fail("n_layer", mutate("sequential-layer_norm-learned-n3", "layers",
                                                  cfg_fn=lambda c: c.update(n_layer=3)), "n_layer")
        failures += expect_fail("heads file with n = 1", mutate("linear-layer_norm-learned-n1", "n1heads",
                                                                extra=lambda m, h: h.update(
                                                                    {"heads.2.linear.bias": np.zeros(8, np.float32)})),
                                "n = 1")
        failures += expect_fail("no heads file", mutate("linear-layer_norm-learned-n3", "noheads",
                                                        weights_fn=lambda w: [w.pop(k) for k in list(w)
                                                                              if k.startswith("heads.")]),
                                "no mtp_heads")
        print(f"self-test: {failures} broken exports and wrong logits rejected")

        ok_dirs = [c[-1] for c in cases[:3]]
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            assert main(ok_dirs) == 0
            assert main(ok_dirs + [os.path.join(root, "bad-h1")]) == 1
        assert printed.getvalue().count("PASS") == 6 and "failing: bad-h1" in printed.getvalue(), printed.getvalue()
        print("self-test: command line exit status 0 on passing cases, 1 with a failing one")
    print("self-test: OK")
    return 0


# ----------------------------------------------------------------------------------------------------------------

def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="case directories (export/ + expected.npz)")
    parser.add_argument("--rtol", type=float, default=1e-5,
                        help="pass when max |diff| <= rtol * max(1, max |java logit|) (default 1e-5)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="precision of the reference forward pass (default float64)")
    parser.add_argument("--self-test", action="store_true", help="check the checker on synthetic models")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.cases:
        parser.error("no case directories given")
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    results = [check_case(case, args.rtol, dtype) for case in args.cases]
    for r in results:
        print(r["line"])
    failed = [r["name"] for r in results if not r["ok"]]
    print(f"export check: {len(results) - len(failed)}/{len(results)} cases pass"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""PyTorch reference implementation of mtp-spark's multi-token prediction (MTP) transformer.

The same architecture as the Java model (core/src/main/java/dev/mtpspark/core/model, docs/model.md), written
independently from the equations, with the same parameter names, shapes and layouts, so that it can load the
initial weights the Java side exports (.npz keyed by DL4J's "layer_param" names) and compute the same
per-horizon losses and gradients (parity.py), and so that its training step is a fair speed reference
(bench_interleaved.py).

Architecture (pre-norm, GPT-2 style):
  tokens -> token embedding (+ learned position table, or rotary attention) -> trunk blocks -> n heads ->
  shared final norm -> shared unembedding W_u [d, V] -> logits_k -> CE_k against x[t+k];
  loss = sum_k w_k * mean CE_k.
Heads: PARALLEL  h_k = block_k(z) for every k (Gloeckle et al. 2024);
       SEQUENTIAL h_1 = z, h_k = block_k(proj_k([norm_h(h_{k-1}); norm_e(emb(x[t+k-1]))])) (DeepSeek-V3);
       LINEAR    h_k = z @ W_k + b_k.
Layouts follow the Java model: weight matrices are [in, out] and applied as x @ W; biases and norm gains are
[1, width]; the fused QKV projection's output columns are ordered (q|k|v, head, head dim).

Inputs follow MtpBatches: features [B, C, T] int64 with channel c holding x[t+c] (C = 1, or n for sequential
heads), labels [B, n, T] with row k-1 holding x[t+k].
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

PARALLEL, SEQUENTIAL, LINEAR = "PARALLEL", "SEQUENTIAL", "LINEAR"
LAYER_NORM, RMS_NORM = "LAYER_NORM", "RMS_NORM"
LEARNED, ROPE = "LEARNED", "ROPE"


@dataclasses.dataclass
class MtpConfig:
    """The model keys of MtpModelConfig that define the architecture (same names, Java spelling)."""
    vocabSize: int = 65
    contextLength: int = 64
    modelWidth: int = 128
    attentionHeads: int = 4
    trunkDepth: int = 4
    mlpWidth: int = 512
    predictedTokens: int = 4
    headArchitecture: str = PARALLEL
    lossWeights: Optional[Sequence[float]] = None
    normType: str = LAYER_NORM
    positionalEncoding: str = LEARNED
    normEpsilon: float = 1e-5
    initStd: float = 0.02
    seed: int = 1234

    def __post_init__(self):
        if self.lossWeights is None:
            self.lossWeights = [1.0] * self.predictedTokens
        if len(self.lossWeights) != self.predictedTokens:
            raise ValueError(f"lossWeights has {len(self.lossWeights)} entries, predictedTokens = {self.predictedTokens}")
        if self.modelWidth % self.attentionHeads:
            raise ValueError("modelWidth must be divisible by attentionHeads")

    @classmethod
    def from_dict(cls, d: dict) -> "MtpConfig":
        """From a dict with MtpModelConfig's keys (e.g. the parity dump's JSON); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def head_width(self) -> int:
        return self.modelWidth // self.attentionHeads

    @property
    def input_channels(self) -> int:
        return self.predictedTokens if self.headArchitecture == SEQUENTIAL else 1

    @property
    def head_blocks(self) -> int:
        return {PARALLEL: self.predictedTokens, SEQUENTIAL: self.predictedTokens - 1, LINEAR: 0}[self.headArchitecture]

    @property
    def blocks(self) -> int:
        """Transformer blocks in the whole model (trunk + heads)."""
        return self.trunkDepth + self.head_blocks


# ------------------------------------------------------------------------------------------- parameters

def _norm_shapes(name: str, cfg: MtpConfig) -> Dict[str, Tuple[int, ...]]:
    shapes = {name + "Gain": (1, cfg.modelWidth)}
    if cfg.normType == LAYER_NORM:
        shapes[name + "Bias"] = (1, cfg.modelWidth)
    return shapes


def _block_shapes(prefix: str, cfg: MtpConfig) -> Dict[str, Tuple[int, ...]]:
    d, m = cfg.modelWidth, cfg.mlpWidth
    shapes = dict(_norm_shapes(prefix + "ln1", cfg))
    shapes.update({prefix + "attnQkvW": (d, 3 * d), prefix + "attnQkvBias": (1, 3 * d),
                   prefix + "attnOutW": (d, d), prefix + "attnOutBias": (1, d)})
    shapes.update(_norm_shapes(prefix + "ln2", cfg))
    shapes.update({prefix + "mlpInW": (d, m), prefix + "mlpInBias": (1, m),
                   prefix + "mlpOutW": (m, d), prefix + "mlpOutBias": (1, d)})
    return shapes


def parameter_shapes(cfg: MtpConfig) -> Dict[str, Tuple[int, ...]]:
    """Every parameter under its DL4J name ("layer_param", as ComputationGraph.paramTable()) with its shape."""
    d = cfg.modelWidth
    shapes = {"mtp_tokW": (cfg.vocabSize, d)}
    if cfg.positionalEncoding == LEARNED:
        shapes["mtp_posW"] = (cfg.contextLength, d)
    for i in range(cfg.trunkDepth):
        shapes.update({f"mtp_t{i}" + k: v for k, v in _block_shapes("", cfg).items()})
    head: Dict[str, Tuple[int, ...]] = {}
    for k in range(1, cfg.predictedTokens + 1):
        p = f"h{k}"
        if cfg.headArchitecture == PARALLEL:
            head.update(_block_shapes(p, cfg))
        elif cfg.headArchitecture == LINEAR:
            head.update({p + "linW": (d, d), p + "linBias": (1, d)})
        elif k >= 2:
            head.update(_norm_shapes(p + "hnorm", cfg))
            head.update(_norm_shapes(p + "enorm", cfg))
            head[p + "projW"] = (2 * d, d)
            head.update(_block_shapes(p, cfg))
    head.update(_norm_shapes("finalNorm", cfg))
    head["unembedW"] = (d, cfg.vocabSize)
    shapes.update({"mtp_" + k: v for k, v in head.items()})
    return shapes


def init_parameters(cfg: MtpConfig, dtype=torch.float32) -> Dict[str, torch.Tensor]:
    """The Java model's initialisation scheme (not its random streams): gains 1, biases 0, residual output
    projections N(0, std / sqrt(2 * blocks)), every other matrix N(0, std)."""
    g = torch.Generator().manual_seed(cfg.seed)
    out = {}
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith("Gain"):
            t = torch.ones(shape, dtype=dtype)
        elif name.endswith("Bias"):
            t = torch.zeros(shape, dtype=dtype)
        else:
            std = cfg.initStd
            if name.endswith("attnOutW") or name.endswith("mlpOutW"):
                std /= math.sqrt(2.0 * max(1, cfg.blocks))
            t = torch.randn(shape, generator=g, dtype=torch.float64).mul_(std).to(dtype)
        out[name] = t
    return out


def load_npz_parameters(path: str, cfg: MtpConfig, dtype) -> Dict[str, torch.Tensor]:
    """Parameters exported by the Java side (NpzExport): names and shapes must match exactly."""
    expected = parameter_shapes(cfg)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(f"{path}: parameter names differ from the reference; missing {missing}, unexpected {extra}")
    out = {}
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise ValueError(f"{path}: {name} has shape {arrays[name].shape}, expected {shape}")
        out[name] = torch.from_numpy(np.ascontiguousarray(arrays[name])).to(dtype)
    return out


# ------------------------------------------------------------------------------------------- model

class MtpReference(torch.nn.Module):
    """The MTP transformer; parameters live in one ParameterDict under their DL4J names."""

    def __init__(self, cfg: MtpConfig, params: Optional[Dict[str, torch.Tensor]] = None, dtype=torch.float32):
        super().__init__()
        self.cfg = cfg
        params = params if params is not None else init_parameters(cfg, dtype)
        self.p = torch.nn.ParameterDict({k: torch.nn.Parameter(v.to(dtype).clone()) for k, v in params.items()})
        t = cfg.contextLength
        self.register_buffer("causal", torch.ones(t, t, dtype=torch.bool).tril(), persistent=False)
        if cfg.positionalEncoding == ROPE:
            half = cfg.head_width // 2
            pos = torch.arange(t, dtype=torch.float64)[:, None]
            inv = torch.pow(10000.0, -2.0 * torch.arange(half, dtype=torch.float64) / cfg.head_width)[None, :]
            self.register_buffer("rope_cos", torch.cos(pos * inv).to(dtype), persistent=False)
            self.register_buffer("rope_sin", torch.sin(pos * inv).to(dtype), persistent=False)

    # -- pieces; activations are position rows [N = B*T, width], as in the Java graph

    def norm(self, name: str, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        gain = self.p[name + "Gain"]
        if cfg.normType == RMS_NORM:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg.normEpsilon) * gain
        return F.layer_norm(x, (cfg.modelWidth,), gain.view(-1), self.p[name + "Bias"].view(-1), cfg.normEpsilon)

    def linear(self, x: torch.Tensor, w: str, b: str) -> torch.Tensor:
        return torch.addmm(self.p[b], x, self.p[w])

    def rotary(self, x: torch.Tensor) -> torch.Tensor:
        half = self.cfg.head_width // 2
        x1, x2 = x[..., :half], x[..., half:]
        cos, sin = self.rope_cos, self.rope_sin
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def attention(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        t, h, hd = cfg.contextLength, cfg.attentionHeads, cfg.head_width
        qkv = self.linear(x, prefix + "attnQkvW", prefix + "attnQkvBias")
        q, k, v = qkv.view(-1, t, 3, h, hd).permute(2, 0, 3, 1, 4)          # each [B, h, T, hd]
        if cfg.positionalEncoding == ROPE:
            q, k = self.rotary(q), self.rotary(k)
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        scores = scores.masked_fill(~self.causal, float("-inf"))
        context = torch.softmax(scores, dim=-1) @ v                           # [B, h, T, hd]
        merged = context.transpose(1, 2).reshape(-1, cfg.modelWidth)
        return self.linear(merged, prefix + "attnOutW", prefix + "attnOutBias")

    def mlp(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        hidden = F.gelu(self.linear(x, prefix + "mlpInW", prefix + "mlpInBias"), approximate="tanh")
        return self.linear(hidden, prefix + "mlpOutW", prefix + "mlpOutBias")

    def block(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(prefix, self.norm(prefix + "ln1", x))
        return x + self.mlp(prefix, self.norm(prefix + "ln2", x))

    def embed(self, ids: torch.Tensor, with_position: bool) -> torch.Tensor:
        rows = F.embedding(ids, self.p["mtp_tokW"])                         # [B, T, d]
        if with_position and self.cfg.positionalEncoding == LEARNED:
            rows = rows + self.p["mtp_posW"]
        return rows.reshape(-1, self.cfg.modelWidth)

    def head_hidden(self, k: int, trunk: torch.Tensor, previous: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        cfg, p = self.cfg, f"mtp_h{k}"
        if cfg.headArchitecture == PARALLEL:
            return self.block(p, trunk)
        if cfg.headArchitecture == LINEAR:
            return self.linear(trunk, p + "linW", p + "linBias")
        if k == 1:
            return trunk
        look_ahead = self.embed(features[:, k - 1], with_position=False)     # emb(x[t+k-1]), no position
        combined = torch.cat((self.norm(p + "hnorm", previous), self.norm(p + "enorm", look_ahead)), dim=1)
        return self.block(p, combined @ self.p[p + "projW"])

    def forward(self, features: torch.Tensor) -> List[torch.Tensor]:
        """Per-horizon logits, each [B*T, V], for features [B, C, T]."""
        cfg = self.cfg
        x = self.embed(features[:, 0], with_position=True)
        for i in range(cfg.trunkDepth):
            x = self.block(f"mtp_t{i}", x)
        logits, previous = [], x
        for k in range(1, cfg.predictedTokens + 1):
            hidden = self.head_hidden(k, x, previous, features)
            previous = hidden
            logits.append(self.norm("mtp_finalNorm", hidden) @ self.p["mtp_unembedW"])
        return logits

    def losses(self, features: torch.Tensor, labels: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(sum_k w_k CE_k, [CE_1 .. CE_n]), CE_k the mean over the batch and positions."""
        ces = [F.cross_entropy(lg, labels[:, k].reshape(-1)) for k, lg in enumerate(self.forward(features))]
        total = sum(w * ce for w, ce in zip(self.cfg.lossWeights, ces))
        return total, ces


# ------------------------------------------------------------------------------------------- FLOPs

def model_flops_per_token(cfg: MtpConfig) -> Dict[str, float]:
    """Model FLOPs of one training step per input position (forward + backward = 3x forward), PaLM style:
    6 * (weights of every matrix multiply a position goes through, the unembedding once per head)
    + 12 * blocks * T * d for attention scores and weighted values (full T x T, causal half not subtracted).
    Embedding lookups, norms, activations, softmax and the optimizer are not counted."""
    d, m, v, n = cfg.modelWidth, cfg.mlpWidth, cfg.vocabSize, cfg.predictedTokens
    per_block = d * 3 * d + d * d + d * m + m * d
    matmul = cfg.blocks * per_block + n * d * v
    if cfg.headArchitecture == SEQUENTIAL:
        matmul += (n - 1) * 2 * d * d
    elif cfg.headArchitecture == LINEAR:
        matmul += n * d * d
    attention = 12.0 * cfg.blocks * cfg.contextLength * d
    return {"matmulWeights": matmul, "dense": 6.0 * matmul, "attention": attention, "total": 6.0 * matmul + attention}

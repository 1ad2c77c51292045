#!/usr/bin/env python3
"""Interleaved training-step benchmark: the Java model (DL4J/ND4J) against the PyTorch reference.

This process is the PyTorch side; it starts the Java side (dev.mtpspark.bench.StepServer) as a
long-lived child process and talks to it over stdin/stdout. For every configuration both sides build the
same model (PyTorch loads the Java model's initial weights) and cycle through the same random token
batches; then blocks of steps alternate, Java, PyTorch, Java, PyTorch ..., so that drift of the machine
(other load, clock, memory) hits both alike and only one side computes at a time. Warm-up blocks are
discarded. With --baseline-java a second Java step server (an earlier build, e.g. through
benchmarks/baseline-java.sh) takes part too: new Java, baseline Java, PyTorch, new Java, ... A training step is forward + backward + Adam update in single precision: MtpModel.fit with
Adam(lr) on the Java side, zero_grad / backward / torch.optim.Adam.step on the PyTorch side.

It also measures the machine's single-precision matrix-multiply peak (square products through torch and
through ND4J; the best of all is the peak) and reports model FLOPs utilisation (MFU) of each side with the
FLOP count of mtp_reference.model_flops_per_token.

Usage: see --help; benchmarks/java-vs-pytorch.sh runs it with the defaults.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtp_reference import (LEARNED, LINEAR, PARALLEL, ROPE, SEQUENTIAL, MtpConfig, MtpReference,  # noqa: E402
                           load_npz_parameters, model_flops_per_token)

# nanoGPT's shakespeare-char CPU recipe, and a larger shape (nanoGPT's GPU shakespeare-char model at batch 4).
SHAPES = {
    "small": dict(vocabSize=65, contextLength=64, batch=12, modelWidth=128, attentionHeads=4, mlpWidth=512, layers=4),
    "large": dict(vocabSize=65, contextLength=256, batch=4, modelWidth=384, attentionHeads=6, mlpWidth=1536, layers=6),
}
# As TrainStepBenchmark: n = 1 with L - 1 trunk blocks + 1 head block; n = 4 with the same trunk (4 head
# blocks, more parameters); n = 4 parameter-matched (the paper's rule: n - 1 trunk blocks fewer, so that trunk +
# head blocks = L). A variant name is [ARCH-POS-]nK[-matched|-unmatched]: ARCH parallel|sequential|linear,
# POS learned|rope (default parallel-learned, so "n1", "n4-unmatched", "n4-matched" are the original three);
# see variant_spec for the trunk depth of each.
LEGACY_VARIANTS = ("n1", "n4-unmatched", "n4-matched")
ARCHITECTURES = {"parallel": PARALLEL, "sequential": SEQUENTIAL, "linear": LINEAR}
POSITIONS = {"learned": LEARNED, "rope": ROPE}


def head_blocks(arch, n):
    """Transformer blocks the heads add (mtp_reference.MtpConfig.head_blocks)."""
    return {PARALLEL: n, SEQUENTIAL: n - 1, LINEAR: 0}[arch]


def variant_spec(name, layers, matching="blocks"):
    """(headArchitecture, positionalEncoding, n, trunkDepth) of a variant name for an L-layer shape.
    nK (K = 1) and nK-unmatched: L - 1 trunk blocks (the n = 1 parallel model's trunk) + the heads.
    nK-matched, matching "blocks" (default): trunk = L - the blocks the heads add, so trunk + head blocks = L
    (parallel: L - K, the paper's rule; sequential: L - (K - 1), its head 1 being the trunk output; linear: L, its
    heads being d x d maps); matching "trunk": L - K for every architecture (the parallel rule applied as is)."""
    parts = name.split("-")
    arch, pos = PARALLEL, LEARNED
    if parts and parts[0] in ARCHITECTURES:
        if len(parts) < 3 or parts[1] not in POSITIONS:
            raise SystemExit(f"variant '{name}': expected ARCH-POS-nK[-matched|-unmatched], POS one of {', '.join(POSITIONS)}")
        arch, pos, parts = ARCHITECTURES[parts[0]], POSITIONS[parts[1]], parts[2:]
    if not parts or not parts[0].startswith("n") or not parts[0][1:].isdigit() or len(parts) > 2 \
            or (len(parts) == 2 and parts[1] not in ("matched", "unmatched")):
        raise SystemExit(f"variant '{name}': expected [ARCH-POS-]nK[-matched|-unmatched]")
    n = int(parts[0][1:])
    matched = len(parts) == 2 and parts[1] == "matched"
    if not matched:
        trunk = layers - 1
    elif matching == "trunk":
        trunk = layers - n
    else:
        trunk = layers - head_blocks(arch, n)
    if trunk < 0:
        raise SystemExit(f"variant '{name}': no trunk depth fits {layers} layers")
    return arch, pos, n, trunk


class JavaSide:
    """The StepServer child process: one command line in, one JSON line out."""

    def __init__(self, command, env, log_path, name="Java"):
        self.name = name
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, text=True, bufsize=1)
        self.read("ready")

    def read(self, expected):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the {self.name} step server exited (code {self.proc.poll()}); see {self.log.name}")
            line = line.strip()
            if not line.startswith("{"):
                print(f"  (ignored non-protocol output of the {self.name} side: {line[:120]})", file=sys.stderr)
                continue
            reply = json.loads(line)
            if reply.get("event") == "error":
                raise RuntimeError(f"{self.name} step server: {reply.get('message')}")
            if reply.get("event") != expected:
                raise RuntimeError(f"expected a '{expected}' reply, got {line[:200]}")
            return reply

    def call(self, command, expected):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(expected)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("quit", "bye")
            except (OSError, RuntimeError):
                self.proc.kill()
        self.proc.wait(timeout=60)
        self.log.close()


class TorchSide:
    def __init__(self, cfg, weights_path, windows, lr):
        self.model = MtpReference(cfg, load_npz_parameters(weights_path, cfg, torch.float32), torch.float32)
        self.model.train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.batches = [to_tensors(w, cfg) for w in windows]
        self.next = 0

    def steps(self, k):
        ms = []
        for _ in range(k):
            features, labels = self.batches[self.next]
            self.next = (self.next + 1) % len(self.batches)
            t0 = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            loss, _ = self.model.losses(features, labels)
            loss.backward()
            self.opt.step()
            ms.append((time.perf_counter() - t0) * 1e3)
        return ms, loss.item()


def to_tensors(windows, cfg):
    """MtpBatches' layout: features [B, C, T] with channel c = x[t+c]; labels [B, n, T] with row k-1 = x[t+k]."""
    t, w = cfg.contextLength, torch.from_numpy(windows.astype(np.int64))
    features = torch.stack([w[:, c:c + t] for c in range(cfg.input_channels)], dim=1)
    labels = torch.stack([w[:, k:k + t] for k in range(1, cfg.predictedTokens + 1)], dim=1)
    return features.contiguous(), labels.contiguous()


def summary(ms, tokens, flops, peak):
    s = sorted(ms)
    q = lambda p: float(np.percentile(s, p))  # noqa: E731
    med = statistics.median(s)
    return {"medianMs": round(med, 2), "p10Ms": round(q(10), 2), "p25Ms": round(q(25), 2), "p75Ms": round(q(75), 2),
            "p90Ms": round(q(90), 2), "minMs": round(s[0], 2), "maxMs": round(s[-1], 2),
            "tokensPerSecond": round(tokens / (med / 1e3), 1),
            "achievedGflops": round(flops / (med / 1e3) / 1e9, 3), "mfu": round(flops / (med / 1e3) / peak, 5),
            "stepMs": [round(x, 2) for x in ms]}


def torch_gemm(size, reps):
    a, b = torch.rand(size, size), torch.rand(size, size)
    c = torch.empty(size, size)
    torch.mm(a, b, out=c)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        out.append(2.0 * size ** 3 / (time.perf_counter() - t0) / 1e9)
    return out


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def run_config(java, baseline, shape_name, shape, variant, args, workdir):
    arch, pos, n, trunk = variant_spec(variant, shape["layers"], args.matching)
    cfg = MtpConfig(vocabSize=shape["vocabSize"], contextLength=shape["contextLength"],
                    modelWidth=shape["modelWidth"], attentionHeads=shape["attentionHeads"],
                    trunkDepth=trunk, mlpWidth=shape["mlpWidth"], predictedTokens=n,
                    headArchitecture=arch, positionalEncoding=pos, seed=args.seed)
    batch = shape["batch"]
    rng = np.random.default_rng(args.seed)
    windows = rng.integers(0, cfg.vocabSize, size=(args.batches, batch, cfg.contextLength + n), dtype=np.int32)
    windows_path = os.path.join(workdir, "windows.npy")
    weights_path = os.path.join(workdir, "weights.npz")
    np.save(windows_path, windows)
    spec = {k: getattr(cfg, k) for k in ("vocabSize", "contextLength", "modelWidth", "attentionHeads", "trunkDepth",
                                         "mlpWidth", "predictedTokens", "headArchitecture", "positionalEncoding",
                                         "normType", "seed")}
    spec.update(batch=batch, learningRate=args.lr, windows=windows_path,
                exportWeights=weights_path, stepThreads=args.step_threads)
    built = java.call("build " + json.dumps(spec), "built")
    check_built(built, cfg, "Java")
    side = TorchSide(cfg, weights_path, windows, args.lr)
    torch_params = sum(p.numel() for p in side.model.parameters())
    if torch_params != built["parameters"]:
        raise RuntimeError(f"parameter counts differ: java {built['parameters']}, torch {torch_params}")
    base_built, base_error = None, None
    wanted = args.baseline_variants in (None, "all") or variant in args.baseline_variants.split(",")
    if baseline is not None and wanted:
        try:
            # Its own initialisation (no import command; the same seed, so equal weights where the scheme is the
            # same: the losses show it), the same batches; what is compared is the step's cost.
            base_spec = dict(spec)
            base_spec.pop("exportWeights")
            base_built = baseline.call("build " + json.dumps(base_spec), "built")
            check_built(base_built, cfg, baseline.name)
            if base_built["parameters"] != torch_params:
                raise RuntimeError(f"parameter counts differ: {baseline.name} {base_built['parameters']}, torch {torch_params} "
                                   "(does that build know every key of the configuration?)")
        except RuntimeError as e:
            base_built, base_error = None, str(e)
            print(f"  {baseline.name} side skipped for {variant}: {e}", flush=True)

    block = args.block[shape_name]
    warm, rounds = args.warmup_blocks[shape_name], args.rounds[shape_name]
    sides = "Java/" + (baseline.name + "/" if base_built else "") + "PyTorch"
    print(f"\n{shape_name} {variant}: {arch.lower()} heads, {pos.lower()} positions, trunk {cfg.trunkDepth} + {n} heads "
          f"({cfg.blocks} blocks), {torch_params:,} parameters; {warm} warm-up + {rounds} measured blocks of {block} "
          f"steps per side, alternating {sides}", flush=True)
    java_ms, torch_ms, base_ms = [], [], []
    java_score = torch_score = base_score = float("nan")
    for r in range(warm + rounds):
        j = java.call(f"steps {block}", "steps")
        if base_built:
            b = baseline.call(f"steps {block}", "steps")
            base_score = b["score"]
        tm, torch_score = side.steps(block)
        java_score = j["score"]
        if r >= warm:
            java_ms += j["ms"]
            torch_ms += tm
            if base_built:
                base_ms += b["ms"]
    tokens = batch * cfg.contextLength
    fl = model_flops_per_token(cfg)
    flops = fl["total"] * tokens
    jres = summary(java_ms, tokens, flops, args.peak)
    tres = summary(torch_ms, tokens, flops, args.peak)
    ratio_time = jres["medianMs"] / tres["medianMs"]
    print(f"  Java    median {jres['medianMs']:9.1f} ms (p10-p90 {jres['p10Ms']:.1f}-{jres['p90Ms']:.1f}), "
          f"{jres['tokensPerSecond']:8.0f} tokens/s, MFU {100 * jres['mfu']:.2f} %, last loss {java_score:.3f}")
    print(f"  PyTorch median {tres['medianMs']:9.1f} ms (p10-p90 {tres['p10Ms']:.1f}-{tres['p90Ms']:.1f}), "
          f"{tres['tokensPerSecond']:8.0f} tokens/s, MFU {100 * tres['mfu']:.2f} %, last loss {torch_score:.3f}")
    print(f"  Java/PyTorch: step time {ratio_time:.2f}x, tokens/s {1 / ratio_time:.3f}x", flush=True)
    out = {"headArchitecture": arch, "positionalEncoding": pos, "normType": cfg.normType,
           "trunkDepth": cfg.trunkDepth, "heads": n, "blocks": cfg.blocks, "parameters": torch_params,
           "parameterCounts": built["parameterCounts"], "javaBuildMs": round(built["buildMs"], 1),
           "tokensPerStep": tokens, "modelFlopsPerToken": fl, "modelFlopsPerStep": flops,
           "warmupSteps": warm * block, "measuredSteps": rounds * block, "blockSteps": block,
           "java": jres, "pytorch": tres,
           "javaOverPytorchStepTime": round(ratio_time, 3), "javaOverPytorchTokensPerSecond": round(1 / ratio_time, 3)}
    if base_built:
        bres = summary(base_ms, tokens, flops, args.peak)
        print(f"  {baseline.name:7s} median {bres['medianMs']:9.1f} ms (p10-p90 {bres['p10Ms']:.1f}-{bres['p90Ms']:.1f}), "
              f"{bres['tokensPerSecond']:8.0f} tokens/s, MFU {100 * bres['mfu']:.2f} %, last loss {base_score:.3f} "
              "(its own initialisation, the same seed)")
        print(f"  Java/{baseline.name}: tokens/s {bres['medianMs'] / jres['medianMs']:.3f}x; {baseline.name}/PyTorch: "
              f"tokens/s {tres['medianMs'] / bres['medianMs']:.3f}x", flush=True)
        out.update(baseline=bres, baselineBuildMs=round(base_built["buildMs"], 1),
                   javaOverBaselineTokensPerSecond=round(bres["medianMs"] / jres["medianMs"], 3),
                   baselineOverPytorchTokensPerSecond=round(tres["medianMs"] / bres["medianMs"], 3))
    elif base_error:
        out["baselineSkipped"] = base_error
    if max(jres["mfu"], tres["mfu"]) > 1:
        print("  warning: MFU above 100 %: the measured peak is too low (busy machine, or --gemm sizes too small)")
    return out


def check_built(built, cfg, name):
    """A step server that echoes what it built must have built the requested variant (older ones echo nothing)."""
    for key in ("headArchitecture", "positionalEncoding", "normType"):
        if key in built and built[key] != getattr(cfg, key):
            raise RuntimeError(f"{name} built {key} {built[key]}, asked for {getattr(cfg, key)}")


# Samples per configuration: small 2 warm-up + 8 measured rounds of 3 steps per side, large 1 + 4 rounds of 2.
DEFAULT_ROUNDS = {"small": 8, "large": 4}
DEFAULT_BLOCK = {"small": 3, "large": 2}
DEFAULT_WARMUP_BLOCKS = {"small": 12, "large": 2}   # fewer left the Java side's first configuration still warming up (docs/performance.md)


def per_shape(value, name, defaults):
    """None -> defaults; '4' -> 4 for every shape; 'small=4' -> 4 for small, the default for the others."""
    if value is None:
        return dict(defaults)
    if "=" not in value:
        return {s: int(value) for s in SHAPES}
    out = dict(defaults)
    for part in value.split(","):
        k, v = part.split("=")
        if k not in SHAPES:
            raise SystemExit(f"--{name}: unknown shape '{k}'")
        out[k] = int(v)
    return out


def main():
    ap = argparse.ArgumentParser(description="Java vs PyTorch training step, interleaved.")
    ap.add_argument("--java", default="bin/mtp-local",
                    help="command that runs a main class named by MTP_MAIN_CLASS (default bin/mtp-local)")
    ap.add_argument("--shapes", default="small,large", help="comma list of: " + ", ".join(SHAPES))
    ap.add_argument("--variants", default=",".join(LEGACY_VARIANTS),
                    help="comma list of [ARCH-POS-]nK[-matched|-unmatched] (ARCH: parallel, sequential, linear; POS: "
                         "learned, rope; default parallel-learned), e.g. n1, n4-matched, sequential-rope-n4-matched")
    ap.add_argument("--matching", choices=("blocks", "trunk"), default="blocks",
                    help="trunk depth of -matched variants: 'blocks' = L minus the blocks the heads add (parallel L - n, "
                         "sequential L - n + 1, linear L); 'trunk' = L - n for every architecture")
    ap.add_argument("--baseline-java", default=None,
                    help="command of a second Java step server (an earlier build, e.g. 'benchmarks/baseline-java.sh "
                         "dev.mtpspark.bench.StepServer'), interleaved as Java, baseline, PyTorch")
    ap.add_argument("--baseline-label", default="baseline", help="the baseline's name in the output and the JSON")
    ap.add_argument("--baseline-variants", default=None,
                    help="comma list of the variants the baseline runs (default: all of --variants)")
    ap.add_argument("--rounds", help="measured Java/PyTorch rounds per configuration: N or small=N,large=M "
                                     f"(default {DEFAULT_ROUNDS})")
    ap.add_argument("--block", help=f"steps per block, as --rounds (default {DEFAULT_BLOCK})")
    ap.add_argument("--warmup-blocks", help=f"discarded rounds per configuration, as --rounds (default {DEFAULT_WARMUP_BLOCKS})")
    ap.add_argument("--batches", type=int, default=4, help="distinct random batches each side cycles through")
    ap.add_argument("--threads", type=int, default=2, help="threads of both sides")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--step-threads", type=int, default=None,
                    help="the Java model's stepThreads (threads per step); default: --threads, so both sides use as many cores")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--gemm", default="2048,4096", help="square sizes for the matrix-multiply peak")
    ap.add_argument("--gemm-reps", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/java-vs-pytorch.json")
    ap.add_argument("--command", default=None, help="the command line to record in the results")
    args = ap.parse_args()
    args.rounds = per_shape(args.rounds, "rounds", DEFAULT_ROUNDS)
    if args.step_threads is None:
        args.step_threads = args.threads
    args.block = per_shape(args.block, "block", DEFAULT_BLOCK)
    args.warmup_blocks = per_shape(args.warmup_blocks, "warmup-blocks", DEFAULT_WARMUP_BLOCKS)

    torch.set_num_threads(args.threads)
    env = dict(os.environ, MTP_MAIN_CLASS="dev.mtpspark.bench.StepServer",
               OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    env.setdefault("MTP_JAVA_OPTS", "-Xmx4g")
    load_start = load_average()
    source_start = source_state()
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="mtp-java-vs-pytorch-")
    log_path = os.path.join(workdir, "step-server.log")
    print(f"load average at start: {load_start}; Java side log: {log_path}", flush=True)
    java = JavaSide(shlex.split(args.java), env, log_path)
    baseline = None
    try:
        if args.baseline_java:
            base_log = os.path.join(workdir, "baseline-step-server.log")
            print(f"baseline Java side: {args.baseline_java} (log {base_log})", flush=True)
            baseline = JavaSide(["bash", "-c", args.baseline_java], env, base_log, name=args.baseline_label)
            base_info = baseline.call("info", "info")
        info = java.call("info", "info")
        # Peak: the best single-precision square product of both libraries, alternating sides too.
        gemm = {"torch": {}, "nd4j": {}}
        for size in [int(s) for s in args.gemm.split(",")]:
            gemm["nd4j"][str(size)] = [round(x, 2) for x in java.call(f"gemm {size} {args.gemm_reps}", "gemm")["gflops"]]
            gemm["torch"][str(size)] = [round(x, 2) for x in torch_gemm(size, args.gemm_reps)]
        best = {side: max(max(v) for v in runs.values()) for side, runs in gemm.items()}
        args.peak = max(best.values()) * 1e9
        print(f"single-precision matrix-multiply peak ({args.threads} threads): torch {best['torch']:.1f} GFLOP/s, "
              f"ND4J {best['nd4j']:.1f} GFLOP/s -> peak {args.peak / 1e9:.1f} GFLOP/s", flush=True)

        shapes = {}
        for shape_name in [s for s in args.shapes.split(",") if s]:
            shape = SHAPES[shape_name]
            configs = {}
            for variant in [v for v in args.variants.split(",") if v]:
                configs[variant] = run_config(java, baseline, shape_name, shape, variant, args, workdir)
            ratios = {}
            if "n1" in configs:
                for v in ("n4-unmatched", "n4-matched"):
                    if v in configs:
                        ratios[v + "OverN1"] = {
                            side: round(configs[v][side]["medianMs"] / configs["n1"][side]["medianMs"], 3)
                            for side in ("java", "pytorch")}
            shapes[shape_name] = {"shape": shape, "configurations": configs, "stepTimeRatios": ratios}
    finally:
        java.close()
        if baseline is not None:
            baseline.close()
    load_end = load_average()

    machine = dict(info["machine"])
    machine.update(loadAverageAtStart=load_start, loadAverageAtEnd=load_end, python=platform.python_version(),
                   torch=torch.__version__, torchThreads=torch.get_num_threads(), numpy=np.__version__,
                   torchBlas=blas_library())
    result = {
        "benchmark": "java-vs-pytorch",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": args.command or " ".join(shlex.quote(a) for a in sys.argv),
        "machine": machine,
        "source": source_state(),
        "sourceAtStart": source_start,
        "threads": {"torch.set_num_threads": args.threads, "OMP_NUM_THREADS": args.threads,
                    "OPENBLAS_NUM_THREADS": args.threads, "MKL_NUM_THREADS": args.threads,
                    "nd4jOmpThreads": machine.get("nd4jOmpThreads"),
                    "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset (libgomp default: spin, then sleep)")},
        "javaStepThreads": args.step_threads,
        "method": ("single precision; training step = forward + backward + Adam(lr %g) update: MtpModel.fit (DL4J "
                   "ComputationGraph, timed on a worker thread of a long-lived JVM) vs zero_grad/backward/"
                   "torch.optim.Adam.step on mtp_reference.MtpReference; same initial weights (exported by the Java "
                   "side as .npz), same random token batches (seed %d) cycled in the same order; per configuration "
                   "warm-up blocks discarded, then measured blocks alternating Java, PyTorch, Java, PyTorch ...; only "
                   "one side computes at a time; tokens/s = batch x T / median step time; model FLOPs per step = "
                   "tokens x (6 x matmul weights per position, unembedding counted once per head, + 12 x blocks x T x "
                   "d attention), see mtp_reference.model_flops_per_token; MFU = model FLOPs per step / median step "
                   "time / peak; peak = best single-precision square matrix product (torch.mm and ND4J Nd4j.gemm) "
                   "with the same threads" % (args.lr, args.seed)),
        "peakGemm": {"gflopsPerRepetition": gemm, "bestGflops": best, "peakGflops": round(args.peak / 1e9, 2)},
        "variantMatching": args.matching,
        "shapes": shapes,
        "wallSeconds": round(time.time() - started, 1),
    }
    result["sourceChangedDuringRun"] = {k: result["source"][k] for k in ("commit", "codeDiffSha1")} != \
        {k: source_start[k] for k in ("commit", "codeDiffSha1")}
    if result["sourceChangedDuringRun"]:
        print("warning: the checkout's code changed while the benchmark ran (see source, sourceAtStart); "
              "a step server started later may have run other code", flush=True)
    if args.baseline_java:
        result["baseline"] = {"label": args.baseline_label, "command": args.baseline_java,
                              "machine": base_info["machine"],
                              "method": "a second step server, the same protocol and batches, its own initialisation with the same seed; "
                                        "blocks alternate Java, baseline, PyTorch"}
        result["targets"] = targets(result)
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)
    print_table(result)
    print(f"\nload average at start {load_start}, at end {load_end}; results written to {out} "
          f"({result['wallSeconds']:.0f} s)")


def source_state():
    """The checkout measured: commit, the files changed against it (uncommitted work is measured too) and a
    digest of the code's uncommitted changes, to tell whether the code changed while the benchmark ran."""
    def git(*a):
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return "unknown"
    code = ("core", "spark-jobs", "benchmarks/java")
    return {"commit": git("rev-parse", "HEAD").strip(),
            "uncommitted": git("status", "--porcelain", "--", "core", "spark-jobs", "benchmarks").splitlines(),
            "codeDiffSha1": hashlib.sha1(git("diff", "HEAD", "--", *code).encode()).hexdigest()}


def blas_library():
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return "unknown"


def targets(result):
    """The issue's targets per configuration: Java >= 1.0x PyTorch tokens/s (every variant); Java >= 0.95x the
    baseline's tokens/s (parallel heads with learned positions)."""
    out = []
    for shape_name, s in result["shapes"].items():
        for name, c in s["configurations"].items():
            row = {"shape": shape_name, "configuration": name,
                   "javaOverPytorch": c["javaOverPytorchTokensPerSecond"],
                   "javaOverPytorchTarget": 1.0, "javaOverPytorchMet": c["javaOverPytorchTokensPerSecond"] >= 1.0}
            if "javaOverBaselineTokensPerSecond" in c:
                row["javaOverBaseline"] = c["javaOverBaselineTokensPerSecond"]
                if c["headArchitecture"] == PARALLEL and c["positionalEncoding"] == LEARNED:
                    row.update(javaOverBaselineTarget=0.95, javaOverBaselineMet=c["javaOverBaselineTokensPerSecond"] >= 0.95)
            out.append(row)
    return out


def print_table(result):
    base = result.get("baseline", {}).get("label")
    print("\n| shape | configuration | parameters | Java ms/step (p10–p90) | PyTorch ms/step (p10–p90) | Java tokens/s "
          "| PyTorch tokens/s | Java/PyTorch tokens/s | Java MFU | PyTorch MFU |"
          + (f" {base} ms/step (p10–p90) | Java/{base} tokens/s |" if base else ""))
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if base else ""))
    for shape_name, s in result["shapes"].items():
        for name, c in s["configurations"].items():
            j, t = c["java"], c["pytorch"]
            extra = ""
            if base:
                b = c.get("baseline")
                extra = (f" {b['medianMs']:.1f} ({b['p10Ms']:.1f}–{b['p90Ms']:.1f}) | {c['javaOverBaselineTokensPerSecond']:.3f} |"
                         if b else " – | – |")
            print(f"| {shape_name} | {name} | {c['parameters']:,} | {j['medianMs']:.1f} ({j['p10Ms']:.1f}–{j['p90Ms']:.1f}) "
                  f"| {t['medianMs']:.1f} ({t['p10Ms']:.1f}–{t['p90Ms']:.1f}) | {j['tokensPerSecond']:,.0f} "
                  f"| {t['tokensPerSecond']:,.0f} | {c['javaOverPytorchTokensPerSecond']:.3f} | {100 * j['mfu']:.2f} % "
                  f"| {100 * t['mfu']:.2f} % |" + extra)
    for row in result.get("targets", []):
        verdict = f"Java/PyTorch {row['javaOverPytorch']:.3f} ({'met' if row['javaOverPytorchMet'] else 'MISSED'}, target 1.0)"
        if "javaOverBaselineTarget" in row:
            verdict += (f", Java/{base} {row['javaOverBaseline']:.3f} "
                        f"({'met' if row['javaOverBaselineMet'] else 'MISSED'}, target 0.95)")
        print(f"target {row['shape']} {row['configuration']}: {verdict}")
    print(f"peak: {result['peakGemm']['peakGflops']} GFLOP/s (single precision, "
          f"{result['threads']['torch.set_num_threads']} threads)")


if __name__ == "__main__":
    main()

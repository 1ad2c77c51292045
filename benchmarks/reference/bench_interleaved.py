#!/usr/bin/env python3
"""Interleaved training-step benchmark: the Java model (DL4J/ND4J) against the PyTorch reference.

This process is the PyTorch side; it starts the Java side (dev.mtpspark.bench.StepServer) as a
long-lived child process and talks to it over stdin/stdout. For every configuration both sides build the
same model (PyTorch loads the Java model's initial weights) and cycle through the same random token
batches; then blocks of steps alternate, Java, PyTorch, Java, PyTorch ..., so that drift of the machine
(other load, clock, memory) hits both alike and only one side computes at a time. Warm-up blocks are
discarded. A training step is forward + backward + Adam update in single precision: MtpModel.fit with
Adam(lr) on the Java side, zero_grad / backward / torch.optim.Adam.step on the PyTorch side.

It also measures the machine's single-precision matrix-multiply peak (square products through torch and
through ND4J; the best of all is the peak) and reports model FLOPs utilisation (MFU) of each side with the
FLOP count of mtp_reference.model_flops_per_token.

Usage: see --help; benchmarks/java-vs-pytorch.sh runs it with the defaults.
"""
import argparse
import datetime
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
from mtp_reference import MtpConfig, MtpReference, load_npz_parameters, model_flops_per_token  # noqa: E402

# nanoGPT's shakespeare-char CPU recipe, and a larger shape (nanoGPT's GPU shakespeare-char model at batch 4).
SHAPES = {
    "small": dict(vocabSize=65, contextLength=64, batch=12, modelWidth=128, attentionHeads=4, mlpWidth=512, layers=4),
    "large": dict(vocabSize=65, contextLength=256, batch=4, modelWidth=384, attentionHeads=6, mlpWidth=1536, layers=6),
}
# As TrainStepBenchmark: n = 1 with L - 1 trunk blocks + 1 head block; n = 4 with the same trunk (4 head
# blocks, more parameters); n = 4 parameter-matched (the paper's rule: n - 1 trunk blocks fewer).
VARIANTS = {"n1": (1, 1), "n4-unmatched": (4, 1), "n4-matched": (4, 4)}   # name -> (n, trunk blocks removed)


class JavaSide:
    """The StepServer child process: one command line in, one JSON line out."""

    def __init__(self, command, env, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, text=True, bufsize=1)
        self.read("ready")

    def read(self, expected):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the Java step server exited (code {self.proc.poll()}); see {self.log.name}")
            line = line.strip()
            if not line.startswith("{"):
                print(f"  (ignored non-protocol output of the Java side: {line[:120]})", file=sys.stderr)
                continue
            reply = json.loads(line)
            if reply.get("event") == "error":
                raise RuntimeError(f"Java step server: {reply.get('message')}")
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


def run_config(java, shape_name, shape, variant, n, removed, args, workdir):
    cfg = MtpConfig(vocabSize=shape["vocabSize"], contextLength=shape["contextLength"],
                    modelWidth=shape["modelWidth"], attentionHeads=shape["attentionHeads"],
                    trunkDepth=shape["layers"] - removed, mlpWidth=shape["mlpWidth"], predictedTokens=n,
                    headArchitecture="PARALLEL", seed=args.seed)
    batch = shape["batch"]
    rng = np.random.default_rng(args.seed)
    windows = rng.integers(0, cfg.vocabSize, size=(args.batches, batch, cfg.contextLength + n), dtype=np.int32)
    windows_path = os.path.join(workdir, "windows.npy")
    weights_path = os.path.join(workdir, "weights.npz")
    np.save(windows_path, windows)
    spec = {k: getattr(cfg, k) for k in ("vocabSize", "contextLength", "modelWidth", "attentionHeads", "trunkDepth",
                                         "mlpWidth", "predictedTokens", "headArchitecture", "seed")}
    spec.update(batch=batch, learningRate=args.lr, windows=windows_path,
                exportWeights=weights_path, stepThreads=args.step_threads)
    built = java.call("build " + json.dumps(spec), "built")
    side = TorchSide(cfg, weights_path, windows, args.lr)
    torch_params = sum(p.numel() for p in side.model.parameters())
    if torch_params != built["parameters"]:
        raise RuntimeError(f"parameter counts differ: java {built['parameters']}, torch {torch_params}")

    block = args.block[shape_name]
    warm, rounds = args.warmup_blocks[shape_name], args.rounds[shape_name]
    print(f"\n{shape_name} {variant}: trunk {cfg.trunkDepth} + {n} heads, {torch_params:,} parameters; "
          f"{warm} warm-up + {rounds} measured blocks of {block} steps per side, alternating Java/PyTorch", flush=True)
    java_ms, torch_ms = [], []
    java_score = torch_score = float("nan")
    for r in range(warm + rounds):
        j = java.call(f"steps {block}", "steps")
        tm, torch_score = side.steps(block)
        java_score = j["score"]
        if r >= warm:
            java_ms += j["ms"]
            torch_ms += tm
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
    if max(jres["mfu"], tres["mfu"]) > 1:
        print("  warning: MFU above 100 %: the measured peak is too low (busy machine, or --gemm sizes too small)")
    return {"trunkDepth": cfg.trunkDepth, "heads": n, "blocks": cfg.blocks, "parameters": torch_params,
            "parameterCounts": built["parameterCounts"], "javaBuildMs": round(built["buildMs"], 1),
            "tokensPerStep": tokens, "modelFlopsPerToken": fl, "modelFlopsPerStep": flops,
            "warmupSteps": warm * block, "measuredSteps": rounds * block, "blockSteps": block,
            "java": jres, "pytorch": tres,
            "javaOverPytorchStepTime": round(ratio_time, 3), "javaOverPytorchTokensPerSecond": round(1 / ratio_time, 3)}


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
    ap.add_argument("--variants", default="n1,n4-unmatched,n4-matched", help="comma list of: " + ", ".join(VARIANTS))
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
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="mtp-java-vs-pytorch-")
    log_path = os.path.join(workdir, "step-server.log")
    print(f"load average at start: {load_start}; Java side log: {log_path}", flush=True)
    java = JavaSide(shlex.split(args.java), env, log_path)
    try:
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
                n, removed = VARIANTS[variant]
                configs[variant] = run_config(java, shape_name, shape, variant, n, removed, args, workdir)
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
        "shapes": shapes,
        "wallSeconds": round(time.time() - started, 1),
    }
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


def blas_library():
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return "unknown"


def print_table(result):
    print("\n| shape | configuration | parameters | Java ms/step (p10–p90) | PyTorch ms/step (p10–p90) | Java tokens/s "
          "| PyTorch tokens/s | Java/PyTorch tokens/s | Java MFU | PyTorch MFU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape_name, s in result["shapes"].items():
        for name, c in s["configurations"].items():
            j, t = c["java"], c["pytorch"]
            print(f"| {shape_name} | {name} | {c['parameters']:,} | {j['medianMs']:.1f} ({j['p10Ms']:.1f}–{j['p90Ms']:.1f}) "
                  f"| {t['medianMs']:.1f} ({t['p10Ms']:.1f}–{t['p90Ms']:.1f}) | {j['tokensPerSecond']:,.0f} "
                  f"| {t['tokensPerSecond']:,.0f} | {c['javaOverPytorchTokensPerSecond']:.3f} | {100 * j['mfu']:.2f} % "
                  f"| {100 * t['mfu']:.2f} % |")
    print(f"peak: {result['peakGemm']['peakGflops']} GFLOP/s (single precision, "
          f"{result['threads']['torch.set_num_threads']} threads)")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Greedy generation tokens/s (issue 15): this build's TextSampler (KV-cached Decoder) against the previous
# release's TextSampler (the whole window and every head recomputed per token; the same GenerationBenchmark source
# compiled against that release by benchmarks/baseline-java.sh, on the same saved model zip) and against the
# PyTorch reference generator (benchmarks/reference/generate_reference.py, KV cache, and --no-cache as the
# nanoGPT-style figure; and KV cache with --one-row-gemv, its single-row products as BLAS gemv like the Java
# decoder's) on the same weights (.npz) and prompt, one after another, with the same thread count.
# Models: the shakespeare-char n = 4 model's shape (conf/shakespeare-char.yaml) and a 6-layer 384-wide one
# (GenerationBenchmark.shape), initialised with a fixed seed, not trained (decoding cost does not depend on the
# weights' values). The ids of every run are compared (see the summary at the end).
# Usage: benchmarks/generation.sh
#   MTP_GEN_THREADS       thread counts, one run of everything per count (default "1 2"): OMP_NUM_THREADS,
#                         OPENBLAS_NUM_THREADS, MKL_NUM_THREADS for every process, torch.set_num_threads
#   MTP_GEN_SHAPES        default "shakespeare-char large"
#   MTP_GEN_TOKENS        new tokens (default 500)
#   MTP_GEN_ROUNDS        rounds per shape and thread count (default 3): each round runs the new Java build and
#                         PyTorch with the KV cache again, each in a fresh process, one after the other (the baseline
#                         and PyTorch without the cache run in the first round only); the figures are the medians
#                         over every timed generation of every round
#   MTP_GEN_REPEATS       timed generations per process of the new Java build and of PyTorch with the KV cache
#                         (default 5)
#   MTP_GEN_WARMUP_SECONDS  the new Java build repeats its warm-up generation until this long has passed (default 5:
#                         one generation of the small model takes a quarter of a second, too short for the JIT)
#   MTP_GEN_OLD_WARMUP    the baseline's warm-up generation length (default 100 tokens: each is a full forward
#                         pass, so no code path stays cold, and 500 would double the slowest part of the run);
#                         the baseline and PyTorch without the cache are timed once (a minute each on the large model)
#   MTP_BASELINE_DIR      the previous release's checkout, built (default /work/old-build); "none" to skip it
#   MTP_GEN_OUT           the result file (default benchmarks/results/generation.json)
#   → prints the tables, writes benchmarks/results/generation.json; models and per-run files in target/generation/
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/reference/python.sh
require_torch fail
threads_list="${MTP_GEN_THREADS:-1 2}"
shapes="${MTP_GEN_SHAPES:-shakespeare-char large}"
tokens="${MTP_GEN_TOKENS:-500}"
old_warmup="${MTP_GEN_OLD_WARMUP:-100}"
repeats="${MTP_GEN_REPEATS:-5}"
rounds="${MTP_GEN_ROUNDS:-3}"
warmup_seconds="${MTP_GEN_WARMUP_SECONDS:-5}"
base_dir="${MTP_BASELINE_DIR:-/work/old-build}"
prompt="30,27,25,17,27,10"     # "ROMEO:" in the char tokenizer's ids (the sorted characters of tiny Shakespeare)
seed=1337
work=target/generation
out="${MTP_GEN_OUT:-benchmarks/results/generation.json}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
command="benchmarks/generation.sh (MTP_GEN_THREADS='$threads_list' MTP_GEN_SHAPES='$shapes' MTP_GEN_TOKENS=$tokens MTP_GEN_ROUNDS=$rounds MTP_GEN_REPEATS=$repeats MTP_GEN_WARMUP_SECONDS=$warmup_seconds MTP_GEN_OLD_WARMUP=$old_warmup MTP_BASELINE_DIR=$base_dir)"

# Build and compile now, untimed (with stdin closed a step server starts and exits at once).
MTP_MAIN_CLASS=dev.mtpspark.bench.StepServer bin/mtp-local </dev/null >/dev/null
if [ "$base_dir" != none ]; then
  MTP_BASELINE_DIR="$base_dir" benchmarks/baseline-java.sh dev.mtpspark.bench.StepServer </dev/null >/dev/null
fi
load_start="$(cat /proc/loadavg)"
# The code measured (commit + digest of uncommitted changes), again at the end: it must not change during the run.
code_state() { echo "$(git rev-parse HEAD) $(git diff HEAD -- core spark-jobs benchmarks/java | sha1sum | cut -d' ' -f1)"; }
state_start="$(code_state)"
echo "load: $(uptime)"
rm -rf "$work"
for shape in $shapes; do
  dir="$work/$shape"
  mkdir -p "$dir"
  for t in $threads_list; do
    export OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t"
    for r in $(seq 1 "$rounds"); do
      echo; echo "== $shape, $t thread(s), round $r/$rounds: new Java (the first run creates and saves the model)"
      MTP_MAIN_CLASS=dev.mtpspark.bench.GenerationBenchmark bin/mtp-local --model "$dir/model.zip" --shape "$shape" \
        --seed "$seed" --weights "$dir/weights.npz" --config-json "$dir/config.json" --prompt-ids "$prompt" \
        --new-tokens "$tokens" --repeats "$repeats" --warmup-seconds "$warmup_seconds" --label new \
        --out "$dir/new-t$t-r$r.json" 2>"$dir/new-t$t-r$r.log" | grep -v '^RESULT '
      if [ "$r" = 1 ] && [ "$base_dir" != none ]; then
        echo "== $shape, $t thread(s): old Java ($base_dir, the same model zip)"
        MTP_BASELINE_DIR="$base_dir" benchmarks/baseline-java.sh dev.mtpspark.bench.GenerationBenchmark \
          --model "$dir/model.zip" --prompt-ids "$prompt" --new-tokens "$tokens" --warmup-tokens "$old_warmup" \
          --seed "$seed" --label old --out "$dir/old-t$t.json" 2>"$dir/old-t$t.log" | grep -v '^RESULT '
      fi
      echo "== $shape, $t thread(s), round $r/$rounds: PyTorch, KV cache"
      "$py" benchmarks/reference/generate_reference.py --config "$dir/config.json" --weights "$dir/weights.npz" \
        --prompt-ids "$prompt" --new-tokens "$tokens" --threads "$t" --repeats "$repeats" \
        --out "$dir/pytorch-kv-t$t-r$r.json" | grep -v '^{'
      echo "== $shape, $t thread(s), round $r/$rounds: PyTorch, KV cache, one-row products as gemv"
      "$py" benchmarks/reference/generate_reference.py --config "$dir/config.json" --weights "$dir/weights.npz" \
        --prompt-ids "$prompt" --new-tokens "$tokens" --threads "$t" --repeats "$repeats" --one-row-gemv \
        --out "$dir/pytorch-kv-gemv-t$t-r$r.json" | grep -v '^{'
      if [ "$r" = 1 ]; then
        echo "== $shape, $t thread(s): PyTorch, no cache (the full window every token)"
        "$py" benchmarks/reference/generate_reference.py --config "$dir/config.json" --weights "$dir/weights.npz" \
          --prompt-ids "$prompt" --new-tokens "$tokens" --threads "$t" --no-cache \
          --out "$dir/pytorch-nocache-t$t.json" | grep -v '^{'
      fi
    done
  done
done
load_end="$(cat /proc/loadavg)"
state_end="$(code_state)"

"$py" - "$work" "$command" "$load_start" "$load_end" "$base_dir" "$threads_list" "$shapes" "$rounds" "$state_start" "$state_end" "$out" <<'EOF'
import datetime, json, os, statistics, subprocess, sys

work, command, load_start, load_end, base_dir, threads_list, shapes, rounds, state_start, state_end, out_path = sys.argv[1:]
rounds = int(rounds)


def load(path):
    with open(path) as f:
        return json.load(f)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compact_lists(text):
    """Lists of numbers on one line each (indent=2 would put every id on a line of its own)."""
    import re
    return re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def compare(a, b):
    at = first_difference(a, b)
    r = {"identical": at is None, "firstDifference": at}
    if at is not None:
        r.update(at=at, got=a[at] if at < len(a) else None, other=b[at] if at < len(b) else None)
    return r


commit = "none"
if base_dir != "none":
    commit = subprocess.run(["git", "-C", base_dir, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
result = {"benchmark": "generation", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "command": command, "loadAverageAtStart": load_start, "loadAverageAtEnd": load_end,
          "baseline": {"dir": base_dir, "commit": commit},
          "source": {"commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
                     "uncommitted": subprocess.run(["git", "status", "--porcelain", "--", "core", "spark-jobs", "benchmarks"],
                                                   capture_output=True, text=True).stdout.splitlines(),
                     "commitAndCodeDiffSha1AtStart": state_start, "commitAndCodeDiffSha1AtEnd": state_end},
          "sourceChangedDuringRun": state_start != state_end,
          "method": ("greedy decoding (temperature 0) of newTokens ids after the prompt, batch 1, float32, through head 1; "
                     "models initialised with a fixed seed, not trained; one model zip per shape, saved by the new build "
                     "and loaded by both Java builds; the PyTorch runs load its parameters (.npz, DL4J names). Each run is "
                     "its own process, one after another: untimed warm-up generation(s), then the timed ones (see warmup and "
                     "repeats; the median counts). Java: the "
                     "whole TextSampler.generate call (prompt prefill included). PyTorch (generate_reference.py): its decode "
                     "loop (prompt prefill excluded), and with the prefill added for the same basis as Java "
                     "(tokensPerSecondIncludingPrefill), which the ratios use. Same thread count for every process."),
          "shapes": {}}
print()
for shape in shapes.split():
    d = os.path.join(work, shape)
    cfg = load(os.path.join(d, "config.json"))
    entry = {"config": cfg, "runs": {}}
    for t in threads_list.split():
        news = [load(os.path.join(d, f"new-t{t}-r{r}.json")) for r in range(1, rounds + 1)]
        kvs = [load(os.path.join(d, f"pytorch-kv-t{t}-r{r}.json")) for r in range(1, rounds + 1)]
        kvgs = [load(os.path.join(d, f"pytorch-kv-gemv-t{t}-r{r}.json")) for r in range(1, rounds + 1)]
        new, kv = news[0], kvs[0]
        nc = load(os.path.join(d, f"pytorch-nocache-t{t}.json"))
        old = load(os.path.join(d, f"old-t{t}.json")) if base_dir != "none" else None
        entry.setdefault("parameters", new["parameters"])
        result.setdefault("machine", new["machine"])
        result.setdefault("promptIds", new["promptIds"])
        result.setdefault("newTokens", new["newTokens"])
        # Every timed generation of every round; the median counts (Java: generate() with its prompt prefill;
        # PyTorch: decode + prompt prefill for the same basis, and decode only as the script reports it).
        new_s = [x for n in news for x in n["timedSeconds"]]
        def totals(runs):
            return [a + b for k in runs for a, b in zip(k["decode_seconds_all"], k["prompt_prefill_seconds_all"])]

        def decodes(runs):
            return [a for k in runs for a in k["decode_seconds_all"]]
        kv_total, kv_decode = totals(kvs), decodes(kvs)
        kvg_total, kvg_decode = totals(kvgs), decodes(kvgs)
        n_tok = new["newTokens"]
        tps = {"newJava": n_tok / statistics.median(new_s), "pytorchKvCache": n_tok / statistics.median(kv_total),
               "pytorchKvCacheDecodeOnly": n_tok / statistics.median(kv_decode),
               "pytorchKvCacheOneRowGemv": n_tok / statistics.median(kvg_total),
               "pytorchKvCacheOneRowGemvDecodeOnly": n_tok / statistics.median(kvg_decode),
               "pytorchNoCache": nc["new_tokens"] / (nc["decode_seconds"] + nc["prompt_prefill_seconds"]),
               "pytorchNoCacheDecodeOnly": nc["tokens_per_second"]}
        per_round = {"newJava": [round(x["tokensPerSecond"], 1) for x in news],
                     "pytorchKvCacheDecodeOnly": [round(x["tokens_per_second"], 1) for x in kvs],
                     "pytorchKvCacheOneRowGemvDecodeOnly": [round(x["tokens_per_second"], 1) for x in kvgs]}
        if old:
            tps["oldJava"] = old["tokensPerSecond"]
        ratios = {"newOverPytorchKvCache": tps["newJava"] / tps["pytorchKvCache"],
                  "newOverPytorchKvCacheDecodeOnly": tps["newJava"] / tps["pytorchKvCacheDecodeOnly"],
                  "newOverPytorchKvCacheOneRowGemv": tps["newJava"] / tps["pytorchKvCacheOneRowGemv"],
                  "newOverPytorchNoCache": tps["newJava"] / tps["pytorchNoCache"]}
        if old:
            ratios["newOverOld"] = tps["newJava"] / tps["oldJava"]
        # The old sampler slides the last T tokens; the new one (and the reference) re-prefill the newest T/2 when the
        # window is full. Before the first re-prefill both see the same window, so their ids must agree there.
        policy_prefix = cfg["contextLength"] + 1 - len(new["promptIds"])
        checks = {"newVsPytorchKvCache": compare(new["ids"], kv["ids"]),
                  "newVsPytorchNoCache": compare(new["ids"], nc["ids"]),
                  "newVsPytorchKvCacheOneRowGemv": compare(new["ids"], kvgs[0]["ids"]),
                  "everyRoundSameIds": all(x["ids"] == new["ids"] for x in news + kvs)
                                       and all(x["ids"] == kvgs[0]["ids"] for x in kvgs)}
        if old:
            c = compare(new["ids"], old["ids"])
            c["samePolicyPrefix"] = policy_prefix
            c["agreesOnSamePolicyPrefix"] = c["identical"] or c["firstDifference"] >= policy_prefix
            checks["newVsOld"] = c
        entry["runs"][f"threads={t}"] = {
            "threads": int(t), "rounds": rounds, "tokensPerSecond": {k: round(v, 2) for k, v in tps.items()},
            "tokensPerSecondPerRound": per_round,
            "ratios": {k: round(v, 3) for k, v in ratios.items()}, "idChecks": checks,
            "medianSeconds": {"newJava": statistics.median(new_s), "oldJava": old["medianSeconds"] if old else None,
                              "pytorchKvCacheDecodePlusPrefill": statistics.median(kv_total),
                              "pytorchKvCacheDecode": statistics.median(kv_decode),
                              "pytorchKvCacheOneRowGemvDecodePlusPrefill": statistics.median(kvg_total),
                              "pytorchNoCacheDecode": nc["decode_seconds"], "pytorchNoCachePrefill": nc["prompt_prefill_seconds"]},
            "warmupTokens": {"newJava": new["warmupTokens"], "oldJava": old["warmupTokens"] if old else None,
                             "pytorch": kv["new_tokens"]},
            "warmup": {"newJavaGenerations": [x.get("warmupGenerations") for x in news],
                       "newJavaSeconds": [x["warmupSeconds"] for x in news],
                       "oldJavaSeconds": old["warmupSeconds"] if old else None},
            "timedGenerations": {"newJava": len(new_s), "oldJava": len(old["timedSeconds"]) if old else None,
                                 "pytorchKvCache": len(kv_total), "pytorchKvCacheOneRowGemv": len(kvg_total),
                                 "pytorchNoCache": nc.get("repeats", 1)},
            "timedSecondsAll": {"newJava": new_s, "oldJava": old["timedSeconds"] if old else None,
                                "pytorchKvCacheDecodePlusPrefill": kv_total,
                                "pytorchKvCacheOneRowGemvDecodePlusPrefill": kvg_total},
            "rePrefills": kv["re_prefills"],
            "loadAverageAtStart": {"newJava": [x["machine"]["loadAverageAtStart"] for x in news],
                                   "oldJava": old["machine"]["loadAverageAtStart"] if old else None},
            # Every other side's ids only where they differ from new Java's (idChecks has the comparison).
            "ids": {"newJava": new["ids"], "oldJava": old["ids"] if old else None,
                    **{k: ("same as newJava" if v == new["ids"] else v)
                       for k, v in (("pytorchKvCache", kv["ids"]), ("pytorchKvCacheOneRowGemv", kvgs[0]["ids"]),
                                    ("pytorchNoCache", nc["ids"]))}},
            "samplers": {"newJava": new["sampler"], "oldJava": old["sampler"] if old else None}}
    result["shapes"][shape] = entry

result["targets"] = [{"shape": s, "threads": r["threads"], "newOverPytorchKvCache": r["ratios"]["newOverPytorchKvCache"],
                      "target": 1.0, "met": r["ratios"]["newOverPytorchKvCache"] >= 1.0,
                      "newOverPytorchKvCacheOneRowGemv": r["ratios"]["newOverPytorchKvCacheOneRowGemv"],
                      "metAgainstOneRowGemv": r["ratios"]["newOverPytorchKvCacheOneRowGemv"] >= 1.0}
                     for s, e in result["shapes"].items() for r in e["runs"].values()]
os.makedirs(os.path.dirname(out_path), exist_ok=True)
with open(out_path + ".tmp", "w") as f:
    f.write(compact_lists(json.dumps(result, indent=2)) + "\n")
os.replace(out_path + ".tmp", out_path)

print("| shape | threads | new Java tokens/s | old Java tokens/s | PyTorch KV cache tokens/s (decode only) | PyTorch KV cache, "
      "one-row gemv | PyTorch no cache tokens/s | new ÷ old | new ÷ PyTorch KV cache | new ÷ PyTorch KV cache gemv "
      "| new ÷ PyTorch no cache |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for s, e in result["shapes"].items():
    for r in e["runs"].values():
        t, q = r["tokensPerSecond"], r["ratios"]
        print(f"| {s} | {r['threads']} | {t['newJava']:,.0f} | {t.get('oldJava', float('nan')):,.1f} | "
              f"{t['pytorchKvCache']:,.0f} ({t['pytorchKvCacheDecodeOnly']:,.0f}) | {t['pytorchKvCacheOneRowGemv']:,.0f} | "
              f"{t['pytorchNoCache']:,.0f} | {q.get('newOverOld', float('nan')):.1f} | {q['newOverPytorchKvCache']:.3f} | "
              f"{q['newOverPytorchKvCacheOneRowGemv']:.3f} | {q['newOverPytorchNoCache']:.2f} |")
print()
for s, e in result["shapes"].items():
    for r in e["runs"].values():
        for name, c in r["idChecks"].items():
            line = f"ids {s} threads={r['threads']} {name}: "
            if name == "everyRoundSameIds":
                print(line + ("yes" if c else "NO: a round generated other ids"))
                continue
            if c["identical"]:
                line += f"identical ({len(r['ids']['newJava'])} ids)"
            else:
                line += f"first difference at index {c['at']} (new {c['got']}, other {c['other']})"
                if "samePolicyPrefix" in c:
                    line += (f"; the first {c['samePolicyPrefix']} ids precede the first re-prefill (the context "
                             f"policies differ from there on): {'agree' if c['agreesOnSamePolicyPrefix'] else 'DIFFER'}")
            print(line)
for row in result["targets"]:
    print(f"target {row['shape']} threads={row['threads']}: new ÷ PyTorch KV cache {row['newOverPytorchKvCache']:.3f} "
          f"({'met' if row['met'] else 'MISSED'}, target 1.0); against its one-row-gemv variant "
          f"{row['newOverPytorchKvCacheOneRowGemv']:.3f} ({'met' if row['metAgainstOneRowGemv'] else 'MISSED'})")
if state_start != state_end:
    print("warning: the checkout's code changed while the benchmark ran: the runs may have measured different code")
print(f"\nload average at start {load_start}, at end {load_end}; results written to {out_path}")
EOF

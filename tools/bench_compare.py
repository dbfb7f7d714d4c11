#!/usr/bin/env python3
"""moegen bench beside its references, in one run on one machine (issue #5,
docs/perf/engine.md): moegen with the stored fp32 weights and converted to
bf16, Hugging Face transformers' generate in fp32 (tools/bench_hf.py), the
DyLoRA-MoE folder under `router`, and llama.cpp on GGUF f32/bf16 of the same
model when LLAMA_CPP_DIR and --gguf are given (tools/bench_llamacpp.sh).

    python3 tools/bench_compare.py --moegen build/release/moegen \\
        --model ~/.cache/moegen/smollm2 --moe ~/.cache/moegen/smollm2-moe/checkpoint-1 \\
        [--gguf F32.gguf --gguf BF16.gguf] [--batches 1,16] [--prompt-tokens 64] \\
        [--gen-tokens 16] [--threads 2] [--reps 3]

Every configuration runs --reps times, interleaved (one round of every system,
then the next round), and the table shows the median, so a burst of
background load hits every system alike. The machine's limits (read
bandwidth, fp32 FMA peak) come from `moegen bench --bandwidth` in the same run.
Prints a Markdown table and, with --json FILE, writes every raw result.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench_compare: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"bench_compare: no JSON from {' '.join(cmd)}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moegen", required=True)
    ap.add_argument("--model", required=True, help="HF folder (fp32 safetensors)")
    ap.add_argument("--moe", help="DyLoRA-MoE folder of the same base (router at batch 16)")
    ap.add_argument("--gguf", action="append", default=[], help="llama.cpp GGUF (repeatable)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--gen-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", help="write the raw results here")
    a = ap.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    common = ["--prompt-tokens", str(a.prompt_tokens), "--gen-tokens", str(a.gen_tokens),
              "--threads", str(a.threads)]

    configs = []  # (label, batch, argv)
    for b in batches:
        configs.append((f"moegen (fp32 weights)", b,
                        [a.moegen, "bench", "--model", a.model, "--batch", str(b), "--json"] + common))
        configs.append((f"moegen (bf16 weights, fp32 math)", b,
                        [a.moegen, "bench", "--model", a.model, "--batch", str(b), "--dtype",
                         "bfloat16", "--json"] + common))
        configs.append((f"HF transformers generate (fp32)", b,
                        [sys.executable, os.path.join(HERE, "bench_hf.py"), "--model", a.model,
                         "--batch", str(b), "--json"] + common))
    if a.moe:
        b = max(batches)
        configs.append((f"moegen DyLoRA-MoE `router`", b,
                        [a.moegen, "bench", "--model", a.moe, "--strategy", "router", "--batch",
                         str(b), "--json"] + common))

    t0 = time.time()
    load0 = open("/proc/loadavg").read().split()[:3]
    limits = run_json([a.moegen, "bench", "--model", a.model, "--batch", "1", "--bandwidth",
                       "--json"] + common)
    results = {i: [] for i in range(len(configs))}
    for r in range(a.reps):
        for i, (label, b, cmd) in enumerate(configs):
            results[i].append(run_json(cmd))
        print(f"# round {r + 1}/{a.reps} done ({time.time() - t0:.0f} s)", file=sys.stderr)
    llama = None
    if a.gguf:
        ld = os.environ.get("LLAMA_CPP_DIR")
        if not ld:
            sys.exit("bench_compare: --gguf needs LLAMA_CPP_DIR (see tools/bench_llamacpp.sh)")
        p = subprocess.run([os.path.join(HERE, "bench_llamacpp.sh"), "--batches", a.batches,
                            "--prompt-tokens", str(a.prompt_tokens), "--gen-tokens",
                            str(a.gen_tokens), "--threads", str(a.threads), "--reps",
                            str(a.reps)] + a.gguf, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench_compare: bench_llamacpp.sh failed: {p.stderr.strip()[-400:]}")
        llama = p.stdout
    load1 = open("/proc/loadavg").read().split()[:3]

    def med(rs, k):
        return statistics.median(x[k] for x in rs)

    def rng(rs, k):
        v = [x[k] for x in rs]
        return f"{min(v):.1f}-{max(v):.1f}"

    print(f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(load0)} at the start, {' '.join(load1)} at the end; "
          f"P={a.prompt_tokens} G={a.gen_tokens} threads={a.threads}, median of {a.reps} "
          f"interleaved rounds (range in brackets).")
    print(f"Machine limits (moegen bench --bandwidth): read {limits['read_gbs']:.1f} GB/s, "
          f"fp32 FMA peak {limits['peak_gflops']:.1f} GFLOP/s; {limits['weight_mib_per_step']:.1f} "
          f"MiB of fp32 weights per decode step -> batch-1 decode bound "
          f"{limits['decode_bound_tok_s']:.1f} tok/s; compute bound "
          f"{limits['compute_bound_tok_s']:.1f} tok/s.\n")
    print("| system | batch | prefill tok/s | decode tok/s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for i, (label, b, cmd) in enumerate(configs):
        rs = results[i]
        print(f"| {label} | {b} | {med(rs, 'prefill_tok_s'):.1f} ({rng(rs, 'prefill_tok_s')}) | "
              f"{med(rs, 'decode_tok_s'):.1f} ({rng(rs, 'decode_tok_s')}) | "
              f"{med(rs, 'peak_rss_mib'):.0f} |")
    if llama:
        print("\nllama.cpp (tools/bench_llamacpp.sh, same run):\n")
        print(llama)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"limits": limits, "configs": [
                {"label": c[0], "batch": c[1], "cmd": c[2], "results": results[i]}
                for i, c in enumerate(configs)], "llama_cpp": llama}, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference for `moegen bench-kernels`: torch.nn.functional.linear on the
same shapes, dtypes and batch sizes, with the same thread count, timed the
same way (each call alone for at least --min-ms, the best call reported). Run it in
the same session as the moegen benchmark (docs/perf/kernels.md).

torch needs x in the weight's dtype, so for BF16/F16 this is torch's native
half-precision CPU path (oneDNN), not fp32 arithmetic on converted weights:
it is the speed a PyTorch user gets, the bar to compare against."""
import argparse
import json
import time

import torch
import torch.nn.functional as F

SHAPES = [
    ("smollm2-135m.q_proj", 576, 576),
    ("smollm2-135m.up_proj", 1536, 576),
    ("smollm2-135m.down_proj", 576, 1536),
    ("codegemma-2b.q_proj", 2048, 2048),
    ("codegemma-2b.up_proj", 16384, 2048),
    ("codegemma-2b.down_proj", 2048, 16384),
]
DTYPES = [("F32", torch.float32), ("BF16", torch.bfloat16), ("F16", torch.float16)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="0 = torch's default")
    ap.add_argument("--min-ms", type=int, default=300)
    ap.add_argument("--shape", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    nt = torch.get_num_threads()
    ns = [1, 16] if a.quick else [1, 4, 16, 64]
    if not a.json:
        print(f"torch {torch.__version__}, {nt} threads")
        print(f"{'shape [m x k]':24} {'dtype':5} {'n':>3} {'time_us':>10} {'GFLOP/s':>9} {'W GB/s':>9}")
    g = torch.Generator().manual_seed(0)
    for name, m, k in SHAPES:
        if a.shape and a.shape not in name:
            continue
        if a.quick and not name.startswith("smollm2"):
            continue
        for dname, dt in DTYPES:
            W = ((torch.rand(m, k, generator=g) - 0.5) * 0.1).to(dt)
            X = (torch.rand(64, k, generator=g)).to(dt)
            for n in ns:
                x = X[:n].contiguous()
                with torch.inference_mode():
                    F.linear(x, W)
                    # Each call timed alone and the best kept, as moegen
                    # bench-kernels does.
                    best, total, calls = 1e30, 0.0, 0
                    while total < a.min_ms * 1e-3 or calls < 3:
                        t0 = time.perf_counter()
                        F.linear(x, W)
                        t = time.perf_counter() - t0
                        total += t
                        best = min(best, t)
                        calls += 1
                gflops = 2.0 * n * k * m / best / 1e9
                gbs = m * k * W.element_size() / best / 1e9
                if a.json:
                    print(json.dumps({"op": "matmul", "impl": "torch", "shape": name, "m": m,
                                      "k": k, "dtype": dname, "n": n, "threads": nt,
                                      "time_us": round(best * 1e6, 2),
                                      "gflops": round(gflops, 2), "weight_gbs": round(gbs, 2)}))
                else:
                    print(f"{name:24} {dname:5} {n:3d} {best*1e6:10.1f} {gflops:9.1f} {gbs:9.1f}",
                          flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Single-threaded encode speed: moegen's tokenizer vs the Hugging Face
`tokenizers` library, on every HumanEval+ and MBPP+ prompt, same machine, same
process conditions (best of N passes, tokenizer already loaded; load time
reported separately).

Usage: python3 tools/bench_tokenizer.py BUILD_DIR [repeats] [tokenizer names...]
  BUILD_DIR holds bench_tokenizer (cmake --build BUILD_DIR --target bench_tokenizer)
Results go in docs/perf/tokenizer.md.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")


def prompts():
    out = []
    for name in ("HumanEvalPlus-v0.1.10.jsonl.gz", "MbppPlus-v0.2.0.jsonl.gz"):
        with gzip.open(os.path.join(SHARED, "datasets", name), "rt") as f:
            out += [json.loads(line)["prompt"] for line in f]
    return out


def main():
    build = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    names = sys.argv[3:] or ["gemma3", "llama3", "qwen3", "deepseek_v3", "mistral"]
    texts = prompts()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        path = f.name
    print("| tokenizer | prompts | MB | tokens | tokenizers encode s | moegen encode s | speed-up | tokenizers load s | moegen load s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        d = os.path.join(SHARED, "tokenizers", name)
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        py_load = time.perf_counter() - t0
        best = 1e30
        ntok = 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            ntok = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
            best = min(best, time.perf_counter() - t0)
        r = subprocess.run([os.path.join(build, "bench_tokenizer"), d, path, str(repeats)],
                           check=True, capture_output=True, text=True)
        m = json.loads(r.stdout)
        assert m["tokens"] == ntok, (name, m["tokens"], ntok)
        mb = sum(len(t.encode()) for t in texts) / 1e6
        print(f"| {name} | {len(texts)} | {mb:.2f} | {ntok} | {best:.4f} | {m['encode_s']:.4f} | "
              f"{best / m['encode_s']:.2f}x | {py_load:.3f} | {m['load_s']:.3f} |")
    os.unlink(path)


if __name__ == "__main__":
    main()

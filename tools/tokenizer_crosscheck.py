#!/usr/bin/env python3
"""Cross-check `moegen tokenize`/`detokenize` against the Hugging Face
`tokenizers` library on texts the committed goldens do not hold: every MBPP+
prompt (+ canonical solution and tests) and random strings built from awkward
pieces (scripts, combining marks, other-script digits, Unicode spaces, emoji,
added-token texts, NUL), for the five ../shared tokenizers and the synthetic
ones of tests/tokenizer/features. Prints the mismatch counts (expected: 0).
A manual check (needs the reference stack); CI runs the committed goldens.

Usage: python3 tools/tokenizer_crosscheck.py BUILD_DIR [n_random]
"""
import glob
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
PIECES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "a", "Z", "yes", "YES",
          "\u00e9", "e\u0301", "\u00df", "\u0130", "\ufb01", "\u00bd", "\u00b2", "\u0663",
          "\u0967", "\u2163", "\u65e5\u672c", "\ud55c\uad6d\uc5b4", "\u0440\u0443", "\u03c2",
          "\u03a3\u039f\u03a3", "\U0001F999", "\U0001F44D\U0001F3FD", "'s", "'LL", "'t", "!",
          "?", "...", "--", "->", "state-of-the-art", "the", "THE", "[MASK]", " [MASK] ", "<s>",
          "</s>", "<bos>", "<|im_start|>", "<start_of_turn>", "<think>",
          "<\uff5cUser\uff5c>", "\u2581", "\u0120", "\x00", "\x7f", "\u200b", "\u200d", "\ufeff",
          "12345678", "3.14", "_", "__init__", "def ", "return ", "    ", "\\n", '"""']


def run(build, args, lines):
    p = subprocess.run([os.path.join(build, "moegen")] + args, input="".join(lines),
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stderr)
    return [json.loads(l) for l in p.stdout.split("\n") if l]


def check(build, name, tdir, tok, texts):
    inp = [json.dumps({"text": t}) + "\n" for t in texts]
    for sp in (False, True):
        got = run(build, ["tokenize", "--tokenizer", tdir] + (["--add-special-tokens"] if sp else []), inp)
        bad = sum(1 for g, t in zip(got, texts) if g["ids"] != tok.encode(t, add_special_tokens=sp).ids)
        print(f"{name:28s} encode special={sp!s:5s} {len(texts)} texts, {bad} mismatches")
    ids = [tok.encode(t).ids for t in texts]
    for skip in (False, True):
        got = run(build, ["detokenize", "--tokenizer", tdir] + (["--skip-special-tokens"] if skip else []),
                  [json.dumps({"ids": i}) + "\n" for i in ids])
        bad = sum(1 for g, i in zip(got, ids) if g["text"] != tok.decode(i, skip_special_tokens=skip))
        print(f"{name:28s} decode skip={skip!s:5s}    {len(texts)} texts, {bad} mismatches")


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    random.seed(1)
    rand = ["".join(random.choice(PIECES) for _ in range(random.randint(0, 25))) for _ in range(n)]
    mbpp = []
    with gzip.open(os.path.join(SHARED, "datasets", "MbppPlus-v0.2.0.jsonl.gz"), "rt") as f:
        for line in f:
            d = json.loads(line)
            mbpp += [d["prompt"], d["prompt"] + d.get("canonical_solution", "")]
    for name in ["gemma3", "llama3", "qwen3", "deepseek_v3", "mistral"]:
        tdir = os.path.join(SHARED, "tokenizers", name)
        tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
        check(build, name, tdir, tok, rand + mbpp)
    with tempfile.TemporaryDirectory() as tmp:
        for f in sorted(glob.glob(os.path.join(HERE, "..", "tests", "tokenizer", "features", "*.json"))):
            name = os.path.basename(f)[:-5]
            d = os.path.join(tmp, name)
            os.makedirs(d)
            shutil.copy(f, os.path.join(d, "tokenizer.json"))
            check(build, name, d, Tokenizer.from_file(f), rand)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates tests/tokenizer/transformers_encode.jsonl: what
transformers.AutoTokenizer.from_pretrained(dir).encode(text) gives for the five
tokenizers in ../shared/tokenizers, on texts chosen to exercise the rules
transformers adds on top of tokenizer.json (BOS/EOS, added tokens in the middle
of the text, leading spaces). mg_tokenizer_encode_prompt must reproduce them.

Usage: python3 tools/tokenizer_goldens.py [../shared/tokenizers] > tests/tokenizer/transformers_encode.jsonl
Needs transformers + tokenizers (the reference stack); tests never run this.
"""
import gzip
import json
import os
import sys

from transformers import AutoTokenizer
import transformers

NAMES = ["gemma3", "llama3", "qwen3", "deepseek_v3", "mistral"]

TEXTS = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "  leading spaces",
    "\n\ndef f(x):\n    return x + 1\n",
    "a <s>b",
    "<s>start",
    "end</s>",
    "x <bos>y",
    "<bos>",
    "<eos> then",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|>Hi<|eot_id|>",
    "<｜begin▁of▁sentence｜>You are<｜User｜>hi<｜Assistant｜>",
    "<start_of_turn>user\nWrite code<end_of_turn>\n<start_of_turn>model\n",
    "Führer ½ 🦙 日本語 Ωmega",
    "tabs\tand\r\nCRLF",
    "<think>\n\n</think>\n\n",
    "1234567 numbers 3.14159",
]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "tokenizers")
    ds = os.path.join(root, "..", "datasets")
    texts = list(TEXTS)
    # A few real prompts of each dataset, as the codegen pipeline encodes them.
    with gzip.open(os.path.join(ds, "HumanEvalPlus-v0.1.10.jsonl.gz"), "rt") as f:
        for i, line in enumerate(f):
            if i in (0, 32, 163):
                texts.append(json.loads(line)["prompt"])
    with gzip.open(os.path.join(ds, "MbppPlus-v0.2.0.jsonl.gz"), "rt") as f:
        for i, line in enumerate(f):
            if i in (0, 100):
                texts.append(json.loads(line)["prompt"])
    for name in NAMES:
        tok = AutoTokenizer.from_pretrained(os.path.join(root, name))
        for i, text in enumerate(texts):
            print(json.dumps({"tokenizer": name, "case": i, "class": type(tok).__name__,
                              "transformers": transformers.__version__,
                              "text": text, "ids": tok.encode(text)}, ensure_ascii=False))


if __name__ == "__main__":
    main()

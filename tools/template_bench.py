#!/usr/bin/env python3
"""Reference timings for docs/perf/template.md: Python Jinja2 (as transformers
configures it) rendering the chat templates of ../shared/tokenizers with the
EvalPlus conversation, and transformers' apply_chat_template(tokenize=False).
Compare with `moegen render-template --repeat N` on the same files.

Usage: python3 tools/template_bench.py OUT_DIR [N]
Writes OUT_DIR/<tok>.jinja and OUT_DIR/<tok>.json (template and context for
moegen) and prints microseconds per render for the Python side.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from template_feature_goldens import make_env  # noqa: E402
from template_goldens import evalplus_messages  # noqa: E402


def main():
    out_dir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    env = make_env()
    msgs = evalplus_messages()
    from transformers import AutoTokenizer
    for name in ["gemma3", "llama3", "qwen3", "deepseek_v3"]:
        d = os.path.join(shared, "tokenizers", name)
        cfg = json.load(open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8"))
        ctx = {"messages": msgs, "tools": None, "documents": None, "add_generation_prompt": False}
        for k in ("bos_token", "eos_token", "unk_token", "pad_token"):
            v = cfg.get(k)
            v = v.get("content") if isinstance(v, dict) else v
            if v:
                ctx[k] = v
        with open(os.path.join(out_dir, name + ".jinja"), "w", encoding="utf-8") as f:
            f.write(cfg["chat_template"])
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(ctx, f, ensure_ascii=False)
        tpl = env.from_string(cfg["chat_template"])
        tpl.render(**ctx)
        t0 = time.perf_counter()
        for _ in range(n):
            tpl.render(**ctx)
        jinja_us = (time.perf_counter() - t0) / n * 1e6
        tok = AutoTokenizer.from_pretrained(d)
        tok.apply_chat_template(msgs, tokenize=False)
        m = max(n // 10, 1)
        t0 = time.perf_counter()
        for _ in range(m):
            tok.apply_chat_template(msgs, tokenize=False)
        hf_us = (time.perf_counter() - t0) / m * 1e6
        print(f"{name}: jinja2 render {jinja_us:.2f} us, apply_chat_template {hf_us:.2f} us")


if __name__ == "__main__":
    main()

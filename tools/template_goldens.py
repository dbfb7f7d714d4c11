#!/usr/bin/env python3
"""Goldens for the chat templates of the real tokenizers in ../shared/tokenizers.

Renders each tokenizer_config.json chat template with transformers'
apply_chat_template(messages, tokenize=False, add_generation_prompt=...) for a
few conversations, the first being EvalPlus' make_raw_chat_prompt conversation
(user instruction + assistant response prefix with the magic splitter), and
writes one JSON object per render to tests/template/golden/chat_templates.jsonl:
    {"tokenizer", "case", "messages", "add_generation_prompt", "expected"}
tests/template/test_template_real.c renders the same with mg_chat_template_*.

Usage: python3 tools/template_goldens.py [SHARED_DIR]   (default: ../shared)
Needs transformers (the reference); the tests themselves do not.
"""
import json
import os
import sys

from transformers import AutoTokenizer

MAGIC = "-[[]]-this-is-really-our-highest-priority-[[]]-"
TASK = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n'
INSTR = ("Please provide a self-contained Python script that solves the following problem "
         "in a markdown code block:")
RESP = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"


def evalplus_messages():
    user = f"{INSTR}\n```\n{TASK.strip()}\n```\n"
    assistant = f"{RESP}\n```python\n{MAGIC}\n```\n"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


CASES = [
    ("evalplus", evalplus_messages(), False),
    ("user_generation_prompt", [{"role": "user", "content": "Write hello world in C.\n"}], True),
    ("system_user_assistant", [
        {"role": "system", "content": "You are a careful coder."},
        {"role": "user", "content": "  Ünïcödé & <tags> {{ not a tag }}  "},
        {"role": "assistant", "content": "Sure: 🤗\n\tdone"},
    ], False),
]


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    out_path = os.path.join(os.path.dirname(__file__), "..", "tests", "template", "golden", "chat_templates.jsonl")
    rows = []
    for name in ["gemma3", "llama3", "qwen3", "deepseek_v3"]:
        tok = AutoTokenizer.from_pretrained(os.path.join(shared, "tokenizers", name))
        for case, msgs, agp in CASES:
            try:
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp)
                rows.append({"tokenizer": name, "case": case, "messages": msgs,
                             "add_generation_prompt": agp, "expected": text})
            except Exception as e:  # a template may reject a conversation (e.g. roles)
                rows.append({"tokenizer": name, "case": case, "messages": msgs,
                             "add_generation_prompt": agp, "error": f"{type(e).__name__}: {e}"})
    with open(out_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} renders to {out_path}")


if __name__ == "__main__":
    main()

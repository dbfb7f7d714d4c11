#!/usr/bin/env python3
"""Every EvalPlus prompt of a model, built and tokenized by moegen, against
EvalPlus and transformers (run by hand; needs `pip install evalplus`):

    python3 tools/prompt_compare.py --moegen build/release/moegen \\
        --model ~/.cache/moegen/smollm2 \\
        --humaneval HumanEvalPlus-v0.1.10.jsonl --mbpp MbppPlus-v0.2.0.jsonl

For each task: `moegen prompts --model` against EvalPlus's
make_raw_chat_prompt with transformers' template (chat models) or
task["prompt"].strip() + "\\n" (base models), and `moegen tokenize
--transformers` against transformers' tokenizer.encode of that prompt.
"""
import argparse
import json
import subprocess

from transformers import AutoTokenizer

from evalplus_prompt import evalplus_prompt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moegen", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--humaneval", required=True, help="HumanEval+ .jsonl (decompressed)")
    ap.add_argument("--mbpp", required=True, help="MBPP+ .jsonl (decompressed)")
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(a.model, use_fast=False)
    chat = tok.chat_template is not None
    prompts, bad = [], 0
    for ds, path in [("humaneval", a.humaneval), ("mbpp", a.mbpp)]:
        with open(path) as f:
            tasks = {json.loads(l)["task_id"]: json.loads(l) for l in f if l.strip()}
        out = subprocess.run([a.moegen, "prompts", "--dataset", ds, "--dataset-path", path,
                              "--model", a.model], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            r = json.loads(line)
            want = evalplus_prompt(tasks[r["task_id"]]["prompt"], tok, chat)
            if r["prompt"] != want:
                bad += 1
                print("prompt differs:", r["task_id"])
            prompts.append(r["prompt"])
    enc = subprocess.run([a.moegen, "tokenize", "--tokenizer", a.model, "--transformers"],
                         input="".join(json.dumps({"text": p}) + "\n" for p in prompts),
                         capture_output=True, text=True, check=True)
    got = [json.loads(l)["ids"] for l in enc.stdout.splitlines()]
    tbad = sum(1 for p, g in zip(prompts, got) if g != tok.encode(p)) + abs(len(got) - len(prompts))
    print(f"{len(prompts)} {'chat' if chat else 'base'} prompts: {bad} differ from EvalPlus's, "
          f"{tbad} tokenize differently from transformers")


if __name__ == "__main__":
    main()

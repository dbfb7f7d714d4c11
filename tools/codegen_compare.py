#!/usr/bin/env python3
"""moegen codegen against EvalPlus's own codegen on a real model, end to end
(prompt building, chat template, tokenization, greedy decoding, stop strings,
sanitizing). Run by hand; needs `pip install evalplus` and the model folder.

    python3 tools/codegen_compare.py --moegen build/release/moegen \\
        --model ~/.cache/moegen/smollm2 --data HumanEvalPlus-v0.1.10.jsonl \\
        --id-range 0,10 --workdir /tmp/cgcmp [--force-base-prompt]

1. `python3 -m evalplus.codegen MODEL humaneval --backend hf --greedy
   --dtype float32 --id_range [LO,HI]` (dataset via HUMANEVAL_OVERRIDE_PATH);
2. `moegen codegen --greedy` on the same tasks;
3. compares the raw and the sanitized solution of every task;
4. for each task that differs, reruns EvalPlus's hf provider step by step
   without its stop_sequencer helper: transformers' greedy `generate` (fp32)
   with its own `stop_strings`, then EvalPlus's truncation at the earliest stop
   text, and says whether moegen equals that. (With transformers 5.x, EvalPlus
   0.3.1's stop_sequencer criterion can end a generation after its first
   token; docs/PIPELINE.md records what was seen.)
"""
import argparse
import json
import os
import subprocess
import sys


def load(path):
    with open(path) as f:
        return {json.loads(l)["task_id"]: json.loads(l)["solution"] for l in f if l.strip()}


def files(root, model, dataset):
    ident = model.strip("./").replace("/", "--") + "_hf_temp_0.0"
    d = os.path.join(root, dataset)
    return os.path.join(d, ident + ".raw.jsonl"), os.path.join(d, ident + ".jsonl")


def plain_hf(model, tasks, tids, force_base, dataset):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalplus_prompt import evalplus_prompt
    tok = AutoTokenizer.from_pretrained(model, use_fast=False)
    chat = tok.chat_template is not None and not force_base
    eos = ["<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint("]
    direct = ["\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "]
    if dataset == "mbpp":
        direct = ['\n"""', "\nassert"]
    eos += ["\n```\n"] if chat else direct
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    out = {}
    for tid in tids:
        prompt = evalplus_prompt(tasks[tid]["prompt"], tok, chat)
        ids = tok.encode(prompt, return_tensors="pt")
        g = m.generate(ids, max_new_tokens=768, do_sample=False, pad_token_id=tok.eos_token_id,
                       stop_strings=eos, tokenizer=tok)
        s = tok.decode(g[0, ids.size(-1):], skip_special_tokens=True)
        s = s[:min([s.index(e) for e in eos if e in s] + [10000])].replace("\t", "    ")
        out[tid] = s if chat else prompt + s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moegen", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", default="humaneval", choices=["humaneval", "mbpp"])
    ap.add_argument("--data", required=True, help="HumanEval+ or MBPP+ .jsonl (decompressed)")
    ap.add_argument("--id-range", default="0,10")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--force-base-prompt", action="store_true",
                    help="direct completion on both sides, even with a chat template")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.id_range.split(","))
    model = os.path.abspath(os.path.expanduser(a.model))
    os.makedirs(a.workdir, exist_ok=True)
    ev_root, mg_root = os.path.join(a.workdir, "evalplus"), os.path.join(a.workdir, "moegen")
    over = "HUMANEVAL_OVERRIDE_PATH" if a.dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    env = dict(os.environ, HF_HUB_OFFLINE="1", **{over: os.path.abspath(a.data)})
    subprocess.run([sys.executable, "-m", "evalplus.codegen", "--model", model, "--dataset",
                    a.dataset, "--backend", "hf", "--greedy", "--dtype", "float32",
                    "--id_range", f"[{lo},{hi}]", "--root", ev_root]
                   + (["--force_base_prompt", "True"] if a.force_base_prompt else []),
                   env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.moegen, "codegen", "--model", model, "--dataset", a.dataset,
                    "--dataset-path", a.data, "--greedy", "--id-range", f"{lo},{hi}", "--root",
                    mg_root, "--quiet"] + (["--force-base-prompt"] if a.force_base_prompt else []),
                   check=True, stdout=subprocess.DEVNULL)
    (er, es), (mr, ms) = files(ev_root, model, a.dataset), files(mg_root, model, a.dataset)
    e_raw, e_san, m_raw, m_san = load(er), load(es), load(mr), load(ms)
    tids = sorted(m_raw, key=lambda t: int(t.split("/")[1]))
    if set(e_raw) != set(m_raw):
        print(f"task sets differ: EvalPlus {len(e_raw)}, moegen {len(m_raw)}")
    same = [t for t in tids if e_raw.get(t) == m_raw[t] and e_san.get(t) == m_san[t]]
    print(f"{len(same)}/{len(tids)} tasks: raw and sanitized solutions identical to EvalPlus's")
    diff = [t for t in tids if t not in same]
    if diff:
        with open(a.data) as f:
            tasks = {json.loads(l)["task_id"]: json.loads(l) for l in f if l.strip()}
        ref = plain_hf(model, tasks, diff, a.force_base_prompt, a.dataset)
        for t in diff:
            print(f"  {t}: EvalPlus {len(e_raw.get(t, ''))} chars, moegen {len(m_raw[t])}; "
                  f"transformers generate + EvalPlus's truncation "
                  f"{'equals moegen' if ref[t] == m_raw[t] else 'DIFFERS from moegen'}")


if __name__ == "__main__":
    main()

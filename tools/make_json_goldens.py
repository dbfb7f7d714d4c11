#!/usr/bin/env python3
"""Generate the reference fixtures for tests/datasets/ with CPython itself.

Run once (from the repository root, with ../shared present) and commit the
output; tests never run Python packages, only compare against these files:

  golden/humanevalplus_dumps.txt.gz, golden/mbppplus_dumps.txt.gz
      three lines per task, in file order:
        json.dumps(task["prompt"])
        json.dumps(task["canonical_solution"])
        json.dumps({"task_id": id, "solution": task["prompt"].strip() + "\\n"
                    + task["canonical_solution"]})
      i.e. the escaping of every prompt and canonical solution, and a whole
      EvalPlus sample record built from the direct-completion prompt.
  golden/escapes.txt     hex(UTF-8 bytes) TAB json.dumps(s) for tricky strings
  golden/py_isspace.txt  every code point for which str.isspace() is true (hex)
  golden/output_ids.txt  model TAB backend TAB float.hex(T) TAB EvalPlus identifier
                         (model.strip("./").replace("/", "--") + f"_{backend}_temp_{T}")
  golden/prompts_humaneval.jsonl.gz, golden/prompts_mbpp.jsonl.gz
      what `moegen prompts --dataset D` prints for a base model, built with the
      installed evalplus package's own EOS lists and codegen prompt rule:
      json.dumps({"task_id", "prompt": prompt.strip() + "\n",
                  "stop": EOS + extra_eos_for_direct_completion(D)})
  golden/chat_prompts_<tok>.jsonl  the same for chat models, with
      evalplus.provider.utility.make_raw_chat_prompt and the transformers
      tokenizer of ../shared/tokenizers/<tok> (its chat template), for a few
      HumanEval+ and MBPP+ tasks; "dataset" names which.
  golden/truncate.jsonl.gz  random completions and EvalPlus's HF-backend truncation
      of them (min_index = 10000; earliest stop; tabs -> 4 spaces), per dataset
      and mode: {"dataset", "direct", "text", "want"}
  golden/chat_prompts_qwen3_prefixes.jsonl  the same with custom (non-ASCII)
      instruction and response prefixes ("\u00c9cris le code \u2713:", "Voil\u00e0 \U0001f40d").
"""
import gzip
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "datasets")
OUT = os.path.join(ROOT, "tests", "datasets", "golden")


def stream_jsonl(path):
    # as evalplus.data.utils.stream_jsonl
    with gzip.open(path, "rt") as fp:
        for line in fp:
            if any(not x.isspace() for x in line):
                yield json.loads(line)


def write_gz(name, lines):
    # mtime=0 so regenerating gives identical bytes
    with open(os.path.join(OUT, name), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for line in lines:
                gz.write((line + "\n").encode("ascii"))


def dumps_lines(path):
    for t in stream_jsonl(path):
        yield json.dumps(t["prompt"])
        yield json.dumps(t["canonical_solution"])
        solution = t["prompt"].strip() + "\n" + t["canonical_solution"]
        yield json.dumps({"task_id": t["task_id"], "solution": solution})


def escapes():
    cases = [
        "",
        "plain ascii",
        "".join(chr(c) for c in range(0, 0x80)),
        "quote \" backslash \\ slash / tab\tnl\ncr\rbs\bff\f",
        "\x7f\x80\x9f\xa0\xff",
        "caf\u00e9 na\u00efve \u00fc\u00df",
        "\u0100\u07ff\u0800\u2028\u2029\ufeff\uffff\ufffd",
        "\U00010000\U0001f600\U0010ffff",
        "mixed \u4e2d\u6587 and emoji \U0001f40d in code: print('\u03c0')",
        "\x00\x01\x1f\x20",
    ]
    rng = random.Random(1234)
    for _ in range(50):
        n = rng.randrange(1, 40)
        s = []
        for _ in range(n):
            r = rng.random()
            if r < 0.4:
                s.append(chr(rng.randrange(0, 0x80)))
            elif r < 0.7:
                s.append(chr(rng.randrange(0x80, 0x800)))
            elif r < 0.9:
                c = rng.randrange(0x800, 0x10000)
                if 0xD800 <= c <= 0xDFFF:
                    c = 0xE000
                s.append(chr(c))
            else:
                s.append(chr(rng.randrange(0x10000, 0x110000)))
        cases.append("".join(s))
    for s in cases:
        yield s.encode("utf-8").hex() + "\t" + json.dumps(s)


def output_ids():
    temps = [0.0, -0.0, 0.8, 0.2, 1.0, 1e-05, 0.0001, 0.1 + 0.2, 1 / 3, 2 / 3, 1e16, 1e15,
             9999999999999998.0, 123456789.125, 1e22, 1.5e300, 5e-324, 2.5e-320,
             1.7976931348623157e308, 1e-07, 0.000123, 100.0, 12345.678, 0.95, 1.2, 0.7,
             float("inf"), float("-inf")]
    rng = random.Random(42)
    for _ in range(200):
        temps.append(rng.uniform(0, 2))
        temps.append(10 ** rng.uniform(-30, 30))
        temps.append(round(rng.uniform(0, 2), rng.randrange(1, 4)))
    models = [("./ckpt/m/", "hf"), ("/data/models/DyLoRA-MoE", "vllm"),
              ("ise-uiuc/Magicoder-S-DS-6.7B", "hf"), ("..//.a/b.c/d..", "moegen"),
              ("plain", "hf"), ("./", "hf")]
    for i, t in enumerate(temps):
        model, backend = models[i % len(models)]
        ident = model.strip("./").replace("/", "--") + f"_{backend}_temp_{t}"
        yield f"{model}\t{backend}\t{t.hex()}\t{ident}"
    yield f"nan-model\thf\t{float('nan').hex()}\tnan-model_hf_temp_nan"


def prompt_lines(path, dataset):
    from evalplus.provider.utility import EOS, extra_eos_for_direct_completion

    stop = EOS + extra_eos_for_direct_completion(dataset)
    for t in stream_jsonl(path):
        yield json.dumps({"task_id": t["task_id"], "prompt": t["prompt"].strip() + "\n",
                          "stop": stop})


def chat_prompt_lines(tok_dir, he_path, mbpp_path, ip=None, rp=None, n=3):
    from transformers import AutoTokenizer
    from evalplus.provider.utility import EOS, make_raw_chat_prompt

    from evalplus_prompt import INSTRUCTION_PREFIX, RESPONSE_PREFIX

    ip = ip or INSTRUCTION_PREFIX
    rp = rp or RESPONSE_PREFIX
    tok = AutoTokenizer.from_pretrained(tok_dir)
    for dataset, path in (("humaneval", he_path), ("mbpp", mbpp_path)):
        for i, t in enumerate(stream_jsonl(path)):
            if i >= n:
                break
            prompt = make_raw_chat_prompt(t["prompt"].strip() + "\n", ip, rp, tok)
            yield json.dumps({"dataset": dataset, "task_id": t["task_id"], "prompt": prompt,
                              "stop": EOS + ["\n```\n"]})


def hf_truncate(s, eos):
    # evalplus/provider/hf.py, HuggingFaceDecoder.codegen, after batch_decode
    min_index = 10000
    for e in eos:
        if e in s:
            min_index = min(min_index, s.index(e))
    return s[:min_index].replace("\t", "    ")


def truncate_lines():
    from evalplus.provider.utility import EOS, extra_eos_for_direct_completion

    rng = random.Random(7)
    pieces = ["    return x\n", "\tif a:\n\t\tb()\n", "\ndef ", "\ndef", "\nclass ", "\nimport ",
              "\nfrom ", "\nassert ", "\nassert", '\n"""', "\nprint(", "\nif __name__",
              "\ndef main(", "</s>", "<|endoftext|>", "<|endofmask|>", "\n```\n", "```", "\n",
              "caf\u00e9 ", "\U0001f600", "\u4e2d\u6587", "x = 1", " " * 13, "#" * 50]
    for dataset in ("humaneval", "mbpp"):
        for direct in (True, False):
            eos = EOS + (extra_eos_for_direct_completion(dataset) if direct else ["\n```\n"])
            for k in range(60):
                # 50 short mixes, then 10 long ones around the 10,000-character cap
                long_pieces = ["#" * 50, "\tif a:\n\t\tb()\n", "caf\u00e9 " * 10, "\U0001f600" * 20]
                n = rng.randrange(0, 12) if k < 50 else rng.randrange(250, 450)
                text = "".join(rng.choice(long_pieces) if k >= 50 and rng.random() < 0.995
                               else rng.choice(pieces) for _ in range(n))
                yield json.dumps({"dataset": dataset, "direct": direct, "text": text,
                                  "want": hf_truncate(text, eos)})


def main():
    if not os.path.isdir(SHARED):
        sys.exit(f"needs {SHARED}")
    os.makedirs(OUT, exist_ok=True)
    write_gz("humanevalplus_dumps.txt.gz",
             dumps_lines(os.path.join(SHARED, "HumanEvalPlus-v0.1.10.jsonl.gz")))
    write_gz("mbppplus_dumps.txt.gz",
             dumps_lines(os.path.join(SHARED, "MbppPlus-v0.2.0.jsonl.gz")))
    with open(os.path.join(OUT, "escapes.txt"), "w") as f:
        for line in escapes():
            f.write(line + "\n")
    with open(os.path.join(OUT, "py_isspace.txt"), "w") as f:
        for c in range(0x110000):
            if chr(c).isspace():
                f.write("%x\n" % c)
    with open(os.path.join(OUT, "output_ids.txt"), "w") as f:
        for line in output_ids():
            f.write(line + "\n")
    he = os.path.join(SHARED, "HumanEvalPlus-v0.1.10.jsonl.gz")
    mbpp = os.path.join(SHARED, "MbppPlus-v0.2.0.jsonl.gz")
    write_gz("prompts_humaneval.jsonl.gz", prompt_lines(he, "humaneval"))
    write_gz("prompts_mbpp.jsonl.gz", prompt_lines(mbpp, "mbpp"))
    toks = os.path.join(os.path.dirname(SHARED), "tokenizers")
    for name in ("qwen3", "llama3", "gemma3", "deepseek_v3"):
        with open(os.path.join(OUT, f"chat_prompts_{name}.jsonl"), "w") as f:
            for line in chat_prompt_lines(os.path.join(toks, name), he, mbpp):
                f.write(line + "\n")
    write_gz("truncate.jsonl.gz", truncate_lines())
    # --instruction-prefix / --response-prefix, with non-ASCII text
    with open(os.path.join(OUT, "chat_prompts_qwen3_prefixes.jsonl"), "w") as f:
        for line in chat_prompt_lines(os.path.join(toks, "qwen3"), he, mbpp,
                                      ip="\u00c9cris le code \u2713:", rp="Voil\u00e0 \U0001f40d",
                                      n=2):
            f.write(line + "\n")


if __name__ == "__main__":
    main()

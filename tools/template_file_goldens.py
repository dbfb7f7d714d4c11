#!/usr/bin/env python3
"""Fixtures and goldens for chat templates stored as files beside
tokenizer_config.json, the layout transformers' save_pretrained writes since
it moved templates out of the config: chat_template.jinja (the default) and
additional_chat_templates/NAME.jinja. transformers reads them in preference to
the config's "chat_template" (tokenization_utils_base: "If independent chat
template file(s) exist, they take priority over template entries in the
tokenizer config"); a model saved that way has no template in its config at
all, so a reader of the config alone would take an instruct model for a base
model and build EvalPlus's direct-completion prompts instead of chat ones.

    python3 tools/template_file_goldens.py --tokenizer ~/.cache/moegen/smollm2 \\
        --out tests/fixtures/chat-template-files

--tokenizer is any folder with a tokenizer.json (SmolLM2-135M-Instruct's, from
tools/smollm2_to_hf.py); it is only needed to make transformers load each
fixture. The fixtures themselves hold no tokenizer.json (moegen's template
loader reads tokenizer_config.json and the template files only). Each fixture
folder gets expected.json: per case the messages, add_generation_prompt, and
what transformers' apply_chat_template(..., tokenize=False) returned, or
{"error": ...} when it raised.
"""
import argparse
import json
import os
import shutil
import tempfile

from transformers import AutoTokenizer

SMOL = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
OTHER = "{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}"
TOOLS = "TOOLS:{% for m in messages %}{{ m['content'] }};{% endfor %}"

CONFIG = {
    "bos_token": "<|im_start|>",
    "eos_token": "<|im_end|>",
    "pad_token": "<|im_end|>",
    "unk_token": "<|endoftext|>",
    "tokenizer_class": "PreTrainedTokenizerFast",
    "model_max_length": 8192,
}

# folder -> (config's chat_template or None, chat_template.jinja or None, {additional})
FIXTURES = {
    "jinja-file": (None, SMOL, {}),
    "jinja-overrides-config": (OTHER, SMOL, {}),
    "jinja-and-additional": (None, SMOL, {"tool_use": TOOLS}),
    "additional-only": (OTHER, None, {"tool_use": TOOLS}),
    "config-only": (OTHER, None, {}),
}

# EvalPlus's chat prompt: the user turn and a pre-filled assistant turn.
CASES = [
    ([{"role": "user", "content": "Complete this:\n```\ndef f(x):\n```\n"},
      {"role": "assistant", "content": "Here it is:\n```python\nMAGIC\n```\n"}], False),
    ([{"role": "user", "content": "hello"}], True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True, help="a folder with tokenizer.json")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    for name, (cfg_tpl, jinja, extra) in FIXTURES.items():
        d = os.path.join(a.out, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cfg = dict(CONFIG)
        if cfg_tpl is not None:
            cfg["chat_template"] = cfg_tpl
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        if jinja is not None:
            with open(os.path.join(d, "chat_template.jinja"), "w") as f:
                f.write(jinja)
        if extra:
            os.makedirs(os.path.join(d, "additional_chat_templates"))
            for n, t in extra.items():
                with open(os.path.join(d, "additional_chat_templates", n + ".jinja"), "w") as f:
                    f.write(t)
        # transformers needs a tokenizer.json to load the folder: render from a copy.
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(d, tmp, dirs_exist_ok=True)
            shutil.copy(os.path.join(a.tokenizer, "tokenizer.json"), tmp)
            tok = AutoTokenizer.from_pretrained(tmp)
            out = []
            for msgs, agp in CASES:
                try:
                    r = {"expected": tok.apply_chat_template(msgs, tokenize=False,
                                                             add_generation_prompt=agp)}
                except Exception as e:  # the reference raised: moegen must refuse too
                    r = {"error": f"{type(e).__name__}: {e}"}
                out.append({"messages": msgs, "add_generation_prompt": agp, **r})
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)
        print(name, [("error" if "error" in c else "ok") for c in out])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates tests/tokenizer/transformers_encode.jsonl: what
transformers.AutoTokenizer.from_pretrained(dir).encode(text) gives (and
.decode(ids, skip_special_tokens=True) of that) for the five
tokenizers in ../shared/tokenizers, on texts chosen to exercise the rules
transformers adds on top of tokenizer.json (BOS/EOS, added tokens in the middle
of the text, leading spaces). mg_tokenizer_encode_prompt must reproduce them.

Usage: python3 tools/tokenizer_goldens.py [../shared/tokenizers] > tests/tokenizer/transformers_encode.jsonl
       python3 tools/tokenizer_goldens.py --features tests/tokenizer/features
Needs transformers + tokenizers (the reference stack); tests never run this.
"""
import gzip
import json
import os
import sys

from transformers import AutoTokenizer
import transformers

NAMES = ["gemma3", "llama3", "qwen3", "deepseek_v3", "mistral"]

TEXTS = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "  leading spaces",
    "\n\ndef f(x):\n    return x + 1\n",
    "a <s>b",
    "<s>start",
    "end</s>",
    "x <bos>y",
    "<bos>",
    "<eos> then",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|>Hi<|eot_id|>",
    "<｜begin▁of▁sentence｜>You are<｜User｜>hi<｜Assistant｜>",
    "<start_of_turn>user\nWrite code<end_of_turn>\n<start_of_turn>model\n",
    "Führer ½ 🦙 日本語 Ωmega",
    "tabs\tand\r\nCRLF",
    "<think>\n\n</think>\n\n",
    "1234567 numbers 3.14159",
]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "tokenizers")
    ds = os.path.join(root, "..", "datasets")
    texts = list(TEXTS)
    # A few real prompts of each dataset, as the codegen pipeline encodes them.
    with gzip.open(os.path.join(ds, "HumanEvalPlus-v0.1.10.jsonl.gz"), "rt") as f:
        for i, line in enumerate(f):
            if i in (0, 32, 163):
                texts.append(json.loads(line)["prompt"])
    with gzip.open(os.path.join(ds, "MbppPlus-v0.2.0.jsonl.gz"), "rt") as f:
        for i, line in enumerate(f):
            if i in (0, 100):
                texts.append(json.loads(line)["prompt"])
    for name in NAMES:
        tok = AutoTokenizer.from_pretrained(os.path.join(root, name))
        for i, text in enumerate(texts):
            ids = tok.encode(text)
            # what EvalPlus does with generated ids: decode(skip_special_tokens=True)
            print(json.dumps({"tokenizer": name, "case": i, "class": type(tok).__name__,
                              "transformers": transformers.__version__,
                              "text": text, "ids": ids,
                              "decoded": tok.decode(ids, skip_special_tokens=True)},
                             ensure_ascii=False))


if __name__ == "__main__" and not (len(sys.argv) > 1 and sys.argv[1] == "--features"):
    main()


# ---------------------------------------------------------------------------
# Feature goldens: small synthetic tokenizer.json files that exercise what the
# five real tokenizers do not (other normalizers, pre-tokenizers, decoders,
# post-processors, added-token options, unk/fuse_unk), with the expected
# encodings and decodes from the `tokenizers` library.
#   python3 tools/tokenizer_goldens.py --features tests/tokenizer/features
# writes <dir>/<variant>.json and <dir>/cases.jsonl.

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "The quick brown fox jumps over the lazy dog. THE END!",
    "for i in range(10): print(i * 2)  # numbers 12345",
    "Hello, world! hello again -- well-known state-of-the-art results.",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
    "yes YES Yes yesterday [MASK] <s> </s>",
]

FEATURE_TEXTS = [
    "",
    " ",
    "Hello world",
    "  Hello,   world!  ",
    "def add(a, b):\n\treturn a+b  # 2024 -- done",
    "The END. the end? state-of-the-art",
    "caf\u00e9 cafe\u0301 \ufb01le \u2163 \u00bd \u0130stanbul \u03a3\u039f\u03a3",
    "emoji \U0001F999 and \u65e5\u672c\u8a9e text",
    "say yes, YES! yesterday yes_no",
    "a [MASK] b [MASK]c  [MASK]  d",
    "<s>start</s> mid <s> end",
    "numbers 1234567 3.14 \u0663\u0664",
    "tab\tnew\nline\r\nend   ",
]
INVALID_UTF8 = [b"ab\xffcd", b"\xe2\x82", b"ok \xf0\x9f\x98 x \xc3\x28 \xed\xa0\x80!", b"\x00nul\x00"]


def feature_variants(base):
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    mask = {"id": None, "content": "[MASK]", "single_word": False, "lstrip": True, "rstrip": True,
            "normalized": False, "special": True}
    yes = {"id": None, "content": "YES", "single_word": True, "lstrip": False, "rstrip": False,
           "normalized": True, "special": False}
    s_tok = {"id": 1, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
    e_tok = {"id": 2, "content": "</s>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
    tmpl = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}
    V = {}
    V["nfd_lower_strip_whitespace"] = dict(
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"},
                                                         {"type": "Strip", "strip_left": True, "strip_right": True}]},
        pre_tokenizer={"type": "Whitespace"}, decoder=None, post_processor=None,
        added=[s_tok, e_tok, mask, yes], model={"byte_fallback": True})
    V["nfkc_replace_wssplit"] = dict(
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"},
                    {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}]},
        pre_tokenizer={"type": "WhitespaceSplit"},
        decoder={"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
        post_processor={"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]},
        added=[s_tok, e_tok], model={"byte_fallback": True})
    V["metaspace_first"] = dict(
        normalizer={"type": "NFC"},
        pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        post_processor=tmpl, added=[s_tok, e_tok, mask], model={"byte_fallback": True})
    V["metaspace_never_unk_fuse"] = dict(
        normalizer=None,
        pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False},
        decoder={"type": "Sequence", "decoders": [
            # (Strip with stop > 0 is not used: the reference panics when a token is shorter)
            {"type": "Strip", "content": "\u2581", "start": 2, "stop": 0},
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        post_processor=None, added=[s_tok, e_tok],
        model={"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": True})
    V["unk_nofuse_digits_punct"] = dict(
        normalizer={"type": "Lowercase"},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True},
            {"type": "Punctuation", "behavior": "Contiguous"}]},
        decoder=None, post_processor=None, added=[s_tok, e_tok, yes],
        model={"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": False})
    V["split_behaviors"] = dict(
        normalizer={"type": "Prepend", "prepend": "\u2581"},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[0-9]+"}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[a-zA-Z]+"}, "behavior": "Removed", "invert": True},
            {"type": "Split", "pattern": {"Regex": "(?i:the)"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Digits", "individual_digits": False}]},
        decoder={"type": "Fuse"}, post_processor=None, added=[s_tok, e_tok, mask],
        model={"byte_fallback": True})
    V["bytelevel_roberta"] = dict(
        normalizer=None, pre_tokenizer=dict(bl, add_prefix_space=True),
        decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        post_processor={"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1],
                        "trim_offsets": True, "add_prefix_space": True},
        added=[s_tok, e_tok, mask, yes], model={"byte_fallback": False, "ignore_merges": True})
    V["bytelevel_seq_post"] = dict(
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "Strip", "strip_left": False, "strip_right": True}]},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
            dict(bl, use_regex=False)]},
        decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        post_processor={"type": "Sequence", "processors": [dict(bl, trim_offsets=False), tmpl]},
        added=[s_tok, e_tok], model={"byte_fallback": False})
    return V


def build_base():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    alphabet = pre_tokenizers.ByteLevel.alphabet() + ["\u2581"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tr = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"],
                             initial_alphabet=alphabet, show_progress=False)
    corpus = CORPUS + [" ".join(CORPUS).replace(" ", "\u2581")]
    tok.train_from_iterator(corpus * 3, tr)
    base = json.loads(tok.to_str())
    vocab = base["model"]["vocab"]
    for b in range(256):
        vocab.setdefault("<0x%02X>" % b, len(vocab))
    for ch in " \u00e9\u0301":
        vocab.setdefault(ch, len(vocab))
    return base


def features(outdir):
    from tokenizers import Tokenizer
    os.makedirs(outdir, exist_ok=True)
    base = build_base()
    cases = []
    for name, v in feature_variants(base).items():
        d = json.loads(json.dumps(base))
        d["normalizer"] = v["normalizer"]
        d["pre_tokenizer"] = v["pre_tokenizer"]
        d["decoder"] = v["decoder"]
        d["post_processor"] = v["post_processor"]
        m = d["model"]
        m["byte_fallback"] = v["model"].get("byte_fallback", False)
        m["unk_token"] = v["model"].get("unk_token")
        m["fuse_unk"] = v["model"].get("fuse_unk", False)
        m["ignore_merges"] = v["model"].get("ignore_merges", False)
        added = []
        nid = len(m["vocab"])
        for a in v["added"]:
            a = dict(a)
            if a["id"] is None:
                a["id"] = m["vocab"].get(a["content"], nid)
                if a["id"] == nid:
                    nid += 1
            added.append(a)
        d["added_tokens"] = added
        text = json.dumps(d, ensure_ascii=False)
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            f.write(text)
        tok = Tokenizer.from_str(text)
        inputs = [t.encode() for t in FEATURE_TEXTS] + INVALID_UTF8
        for raw in inputs:
            s = raw.decode("utf-8", "replace")
            ids = tok.encode(s, add_special_tokens=False).ids
            cases.append({"tokenizer": name, "text_hex": raw.hex(),
                          "ids": ids, "ids_special": tok.encode(s, add_special_tokens=True).ids,
                          "decoded": tok.decode(ids, skip_special_tokens=True),
                          "decoded_special": tok.decode(ids, skip_special_tokens=False)})
    with open(os.path.join(outdir, "cases.jsonl"), "w") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--features":
    features(sys.argv[2])

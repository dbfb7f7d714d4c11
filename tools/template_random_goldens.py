#!/usr/bin/env python3
"""Differential goldens: random templates from a small grammar, rendered by
Python Jinja2 (configured as transformers does), written to
tests/template/golden/random.jsonl in the corpus schema ("expected", or
"jinja2_error" with the exception class) without "context": every case uses
the one context written next to it (random_context.json). The seed is fixed,
so the files are reproducible:
    python3 tools/template_random_goldens.py [COUNT] [SEED] [OUT]
Larger runs (e.g. 3000 templates, other seeds) are a quick differential check
of the renderer against Jinja2; see docs/TEMPLATES.md.
"""
import copy
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from template_feature_goldens import make_env  # noqa: E402

CTX = {
    "s": "Hello, World", "e": "", "u": "héllo wörld", "ws": "  a b\tc \n", "n": 3, "m": -7,
    "f": 2.5, "z": 0, "t": True, "no": False, "none": None,
    "l": [3, 1, 2], "ls": ["b", "A", "c"], "ll": [[1, 2], [3]], "empty": [],
    "d": {"b": 2, "a": 1}, "msgs": [{"role": "user", "content": "hi"},
                                    {"role": "assistant", "content": "yo", "x": 1}],
}
NAMES = list(CTX) + ["undef"]
STR_LITS = ["'a'", "'Ab c'", "''", "'x,y'", "\"q'\"", "' p '", "'é'"]
NUM_LITS = ["0", "1", "2", "-3", "1.5", "0.1", "10", "3.0"]


def atom(r, depth):
    k = r.random()
    if k < 0.35:
        return r.choice(NAMES)
    if k < 0.5:
        return r.choice(STR_LITS)
    if k < 0.65:
        return r.choice(NUM_LITS)
    if k < 0.7:
        return r.choice(["true", "false", "none"])
    if k < 0.78 and depth < 3:
        return "[" + ", ".join(expr(r, depth + 1) for _ in range(r.randint(0, 3))) + "]"
    if k < 0.83 and depth < 3:
        return "{" + ", ".join(f"{r.choice(STR_LITS)}: {expr(r, depth + 1)}" for _ in range(r.randint(0, 2))) + "}"
    if k < 0.88 and depth < 3:
        return "(" + expr(r, depth + 1) + ")"
    return r.choice(NAMES)


FILTERS = ["length", "upper", "lower", "title", "capitalize", "trim", "first", "last", "list",
           "string", "int", "float", "abs", "sort", "reverse", "unique | list", "join", "join(',')",
           "default('D')", "d(1, true)", "tojson", "tojson(indent=1)", "items | list", "dictsort",
           "map('string') | list", "select | list", "reject | list", "sum", "min", "max",
           "round(1)", "replace('l', 'L')", "indent(2)", "batch(2) | list", "count", "escape",
           "selectattr('role') | list", "map(attribute='role') | list", "center(9)", "wordcount",
           "truncate(5, true, '.', 0)", "format(1)", "pprint"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping",
         "sequence", "iterable", "odd", "even", "true", "false", "boolean", "callable",
         "divisibleby 2", "eq 1", "in [1, 'a']", "lower", "upper", "gt 1", "sameas none"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "in",
          "not in", "and", "or"]
METHODS = ["strip()", "upper()", "lower()", "split()", "split(',')", "startswith('H')",
           "endswith('d')", "replace('o', '0')", "title()", "get('a')", "get('zz', 5)",
           "items() | list", "keys() | list", "values() | list", "count('l')", "find('o')",
           "format(1, 2)", "join(['x', 'y'])", "lstrip()", "rstrip()", "rsplit(' ', 1)",
           "capitalize()", "isdigit()", "center(8)", "zfill(5)", "splitlines()"]


def expr(r, depth=0):
    k = r.random()
    if depth >= 3 or k < 0.25:
        return atom(r, depth)
    if k < 0.45:
        return f"({expr(r, depth + 1)}) | {r.choice(FILTERS)}"
    if k < 0.6:
        return f"({expr(r, depth + 1)}) {r.choice(BINOPS)} ({expr(r, depth + 1)})"
    if k < 0.68:
        return f"({expr(r, depth + 1)}) is {r.choice(['', 'not '])}{r.choice(TESTS)}"
    if k < 0.76:
        return f"{atom(r, depth + 1)}.{r.choice(METHODS)}"
    if k < 0.82:
        idx = r.choice(["0", "-1", "1:", ":2", "::-1", "'a'", "'role'", "5"])
        return f"{atom(r, depth + 1)}[{idx}]"
    if k < 0.88:
        return f"({expr(r, depth + 1)} if {expr(r, depth + 1)} else {expr(r, depth + 1)})"
    if k < 0.93:
        return f"not ({expr(r, depth + 1)})"
    return f"-{atom(r, depth + 1)}"


def stmt(r, depth=0):
    k = r.random()
    if depth >= 2 or k < 0.4:
        return "{{ " + expr(r) + " }}" + r.choice(["", " ", "\n", "|"])
    if k < 0.55:
        return (f"{{% for x in {r.choice(['l', 'ls', 'msgs', 'd', 's', 'll', 'empty', 'undef', 'range(3)'])} %}}"
                f"{stmt(r, depth + 1)}{{{{ loop.index }}}}{{% else %}}E{{% endfor %}}")
    if k < 0.7:
        return f"{{% if {expr(r)} %}}{stmt(r, depth + 1)}{{% elif {expr(r)} %}}B{{% else %}}{stmt(r, depth + 1)}{{% endif %}}"
    if k < 0.8:
        return f"{{% set v = {expr(r)} %}}{{{{ v }}}}"
    if k < 0.88:
        lead = r.choice(["  ", "", "\n  "])
        return f"{lead}{{%- if {expr(r)} -%}}\n  {stmt(r, depth + 1)}\n{{%- endif %}}\n"
    if k < 0.94:
        return f"{{% macro mm(a, b=2) %}}[{{{{ a }}}}{{{{ b }}}}]{{% endmacro %}}{{{{ mm({expr(r)}) }}}}"
    return f"{{% filter upper %}}{stmt(r, depth + 1)}{{% endfilter %}}"


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20251126
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "template", "golden", "random.jsonl")
    r = random.Random(seed)
    env = make_env()
    with open(out, "w", encoding="utf-8") as f:
        for i in range(count):
            tpl = "".join(stmt(r) for _ in range(r.randint(1, 3)))
            row = {"name": f"random_{i}", "template": tpl}
            try:
                # a fresh copy: some filters mutate their input in Python
                # (indent does `s += "\n"`, which extends a list in place)
                row["expected"] = env.from_string(tpl).render(**copy.deepcopy(CTX))
                row["jinja2_agrees"] = True
                if " object at 0x" in row["expected"]:
                    continue  # prints an address (iterator repr): not reproducible
            except Exception as e:
                row["jinja2_agrees"] = False
                row["jinja2_error"] = f"{type(e).__name__}: {e}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(os.path.join(os.path.dirname(out), "random_context.json"), "w", encoding="utf-8") as f:
        json.dump(CTX, f, ensure_ascii=False)
    print(f"wrote {count} templates to {out}")


if __name__ == "__main__":
    main()

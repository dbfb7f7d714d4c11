#!/usr/bin/env python3
"""Generates the golden fixtures of tests/evaluate/ from the reference stack.

    pip install evalplus==0.3.1   # tree-sitter sanitizer, numpy pass@k
    python3 tools/evaluate_fixtures.py

Writes
  tests/evaluate/fixtures/sanitize_cases.jsonl  {"code", "entry_point", "expected"}:
      expected = evalplus.sanitize.sanitize(code, entry_point) (tree-sitter)
  tests/evaluate/fixtures/passk.json  per-task (n, c) lists and EvalPlus's
      pass@k (estimate_pass_at_k(...).mean()) as float.hex strings
"""
import json
import os
import random

import numpy as np
from evalplus.eval import estimate_pass_at_k
from evalplus.sanitize import sanitize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "evaluate", "fixtures")

FENCE = "```"
CASES = [
    ("def f(x):\n    return x + 1\n", "f"),
    ("Here is the code:\n" + FENCE + "python\ndef f(x):\n    return x + 1\n" + FENCE + "\nThis adds one.", "f"),
    ("import math\nfrom typing import List\n\ndef helper(a):\n    return math.sqrt(a)\n\ndef f(xs: List[float]):\n    return [helper(x) for x in xs]\n", "f"),
    ("def unused():\n    return 0\n\ndef f(x):\n    return x\n", "f"),
    ("def g(x):\n    return 1\n\ndef g(x):\n    return 2\n\ndef f(x):\n    return g(x)\n", "f"),
    ("def c(x):\n    assert 1 == 1\n\ndef f(x):\n    return c(x)\n", "f"),
    ("class A:\n    def m(self):\n        return 3\n\ndef f(x):\n    return A().m() + x\n", "f"),
    ("@decorator\ndef f(x):\n    return x\n", "f"),
    ("import os\n@cache\ndef f(x):\n    return x\n", "f"),
    ("def f(x):\n    return x\n\nif __name__ == '__main__':\n    print(f(3))\n", "f"),
    ("def f(x):\n    return x\n\nprint(f(2))\nassert f(1) == 1\n", "f"),
    ("LIMIT = 10\nOTHER = 3\n\ndef f(x):\n    return min(x, LIMIT)\n", "f"),
    ("a, b = 1, 2\n\ndef f(x):\n    return x + a\n", "f"),
    ("x: int = 5\n\ndef f(y):\n    return x + y\n", "f"),
    ("import re\npattern = re.compile('a+')\n\ndef f(s):\n    return bool(pattern.match(s))\n", "f"),
    ("def f(n):\n    def inner(k):\n        return k * 2\n    return inner(n)\n", "f"),
    ("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n\n\n\n# trailing comment\n", "f"),
    ("Sure! Here's my solution.\n\n" + FENCE + "python\nimport sys\n\ndef f(s):\n    return s[::-1]\n" + FENCE + "\n\nAnd a test:\n\n" + FENCE + "python\nassert f('ab') == 'ba'\n" + FENCE + "\n", "f"),
    ("this is not code at all\nneither is this line\n", "f"),
    ("def f(x):\n    return x\n", None),
    ("import math\n\ndef a():\n    return 1\n\nv = 3\n\nclass K:\n    pass\n", None),
    ("def f(x):\n    return helper(x)\n\ndef helper(y):\n    return y * y\n", "f"),
    ("def f(x):\n    return [i for i in range(x) if i % 2]\n\n\ndef g():\n    pass\n", "f"),
    ("async def f(x):\n    return x\n", "f"),
    ("def f(x):\n    '''doc'''\n    return x\nx = f(1)\ny = f(2)\n", "f"),
    ("def f(x):\n    if x:\n        return 1\n    else:\n        return 2\n    # done\n", "f"),
    ("from collections import Counter, defaultdict\nimport itertools as it\n\ndef f(xs):\n    return Counter(xs).most_common(1)\n", "f"),
    ("def f(x): return x * 2\n", "f"),
    ("def f(x):\n    return x\n\ndef f(x):\n    return -x\n", "f"),
    ("s = 'a'\ns = 'b'\ndef f():\n    return s\n", "f"),
    ("def f(x):\n    return CONST * x\nCONST = 3\nobj.attr = CONST\n", "f"),
    ("def f(x):\n    return d[x]\nd = {}\nd[1] = 2\n", "f"),
    ("    def f(x):\n        return x\n", "f"),
    ("def f(x):\n    return g(x)\ng = lambda y: y + 1\n", "f"),
    ("def f(x):\n  return x\n\n\n\ndef broken(:\n", "f"),
    ("import numpy as np\n\ndef f(a):\n    return np.array(a).sum()\n", "f"),
    ("class Base:\n    pass\nclass Child(Base):\n    def v(self):\n        return 1\ndef f():\n    return Child().v()\n", "f"),
    ("def f(x):\n    return 'caf\u00e9' + str(x)\n", "f"),
    ("def f(x):\n    return x\r\n", "f"),
    ("def f(x):\n    return x\n\n    # deeper comment after a blank line\n\ny = 2\n", "f"),
    ("def f(x):\n    return x\n  # shallower comment\n", "f"),
    ("class K:\n    def v(self):\n        return 1\n        # in method\n    # in class\n# outside\ndef f():\n    return K().v()\n", "f"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sanitize_cases.jsonl"), "w") as f:
        for code, ep in CASES:
            f.write(json.dumps({"code": code, "entry_point": ep,
                                "expected": sanitize(code, ep)}) + "\n")
    rng = random.Random(7)
    sets = []
    for n_tasks, n in ((164, 1), (37, 10), (11, 100), (5, 13), (9, 200)):
        ns = [n] * n_tasks
        cs = [rng.randint(0, n) for _ in range(n_tasks)]
        out = {}
        for k in (1, 10, 100):
            if min(ns) >= k:
                out["pass@%d" % k] = float(estimate_pass_at_k(np.array(ns), np.array(cs), k).mean()).hex()
        sets.append({"n": ns, "c": cs, "pass_at_k": out})
    with open(os.path.join(OUT, "passk.json"), "w") as f:
        json.dump(sets, f)


if __name__ == "__main__":
    main()

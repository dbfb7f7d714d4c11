#!/usr/bin/env python3
"""Checks that every task of a HumanEval-format JSONL file is self-consistent:
prompt + canonical_solution passes its own `check(candidate)` and the doctests
in the prompt's docstring. Standard library only (used by test_cli_prompts)."""
import doctest
import json
import sys


def main(path):
    n = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            ns = {}
            exec(t["prompt"] + t["canonical_solution"] + t["test"], ns)
            fn = ns[t["entry_point"]]
            ns["check"](fn)
            finder = doctest.DocTestFinder()
            runner = doctest.DocTestRunner(verbose=False)
            for test in finder.find(fn, t["entry_point"], globs=ns):
                runner.run(test)
            if runner.failures:
                sys.exit(f"{t['task_id']}: doctest failed")
            n += 1
    print(n)


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""Compares `moegen evaluate` with the real EvalPlus (run by hand; needs
`pip install evalplus`). Not used by tests or CI.

    python3 tools/eval_compare.py run --moegen build/release/moegen \
        --dataset humaneval --data ../shared/datasets/HumanEvalPlus-v0.1.10.jsonl.gz \
        --variants 4 --parallel 2 --workdir /tmp/evcmp

1. Writes a sample file with, for every task, the canonical solution and
   mutated copies (an AST mutation of a comparison, an arithmetic operator,
   a constant or a return; a syntax error; a crash; an endless loop; a
   completion-only record), seeded, so statuses are mixed.
2. Runs EvalPlus (`python3 -m evalplus.evaluate`, with the dataset given
   through HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH as a decompressed
   file so both compute the same hash) and moegen on it with the same
   --parallel, timing both.
3. Compares base/plus status of every sample and pass@k at the printed
   precision, and prints a Markdown summary for docs/EVALUATION.md.

`--min-time-limit 4` is passed to EvalPlus 0.3.1 (whose default is still 1 s;
EvalPlus HEAD uses 4 s, as moegen does). `--patch-find-zero` applies EvalPlus
HEAD's fix of the HumanEval/32 oracle (#241) to the installed 0.3.1 before
running it; without it 0.3.1 fails every find_zero sample.
"""
import argparse
import ast
import gzip
import json
import os
import random
import subprocess
import sys
import time


def read_dataset(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data, [json.loads(line) for line in data.decode().split("\n") if line.strip()]


class Mutator(ast.NodeTransformer):
    """Applies one mutation at the n-th eligible node."""

    SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
    SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult}

    def __init__(self, kind, target):
        self.kind, self.target, self.seen, self.done = kind, target, 0, False

    def _hit(self):
        hit = self.seen == self.target
        self.seen += 1
        return hit

    def visit_Compare(self, node):
        self.generic_visit(node)
        if self.kind == "cmp" and type(node.ops[0]) in self.SWAP_CMP and self._hit():
            node.ops[0] = self.SWAP_CMP[type(node.ops[0])]()
            self.done = True
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if self.kind == "bin" and type(node.op) in self.SWAP_BIN and self._hit():
            node.op = self.SWAP_BIN[type(node.op)]()
            self.done = True
        return node

    def visit_Constant(self, node):
        if (self.kind == "const" and isinstance(node.value, int)
                and not isinstance(node.value, bool) and self._hit()):
            self.done = True
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if self.kind == "ret" and node.value is not None and self._hit():
            self.done = True
            return ast.copy_location(ast.Return(ast.Constant(None)), node)
        return node


def mutate(code, rng):
    tree = ast.parse(code)
    for kind in rng.sample(["cmp", "bin", "const", "ret"], 4):
        counter = Mutator(kind, -1)
        counter.visit(ast.parse(code))
        if counter.seen == 0:
            continue
        m = Mutator(kind, rng.randrange(counter.seen))
        new = m.visit(tree)
        if m.done:
            return ast.unparse(ast.fix_missing_locations(new)) + "\n", kind
    return code.replace("return", "return None or", 1), "ret-text"


def make_samples(tasks, variants, seed, a_swallow=0.0):
    rng = random.Random(seed)
    out, kinds = [], []
    for i, t in enumerate(tasks):
        canonical = t["prompt"] + t["canonical_solution"]
        out.append({"task_id": t["task_id"], "solution": canonical})
        kinds.append("canonical")
        for v in range(variants - 1):
            roll = rng.random()
            if roll < 0.06:
                out.append({"task_id": t["task_id"], "solution": canonical + "\n)syntax error("})
                kinds.append("syntax")
            elif roll < 0.10:
                out.append({"task_id": t["task_id"], "solution": canonical.replace(
                    "    ", "    raise ValueError('x')\n    ", 1)})
                kinds.append("crash")
            elif roll < 0.12:
                out.append({"task_id": t["task_id"],
                            "solution": t["prompt"] + "    while True:\n        pass\n"})
                kinds.append("loop")
            elif roll < 0.12 + a_swallow:
                # catches the per-input alarm: only the process deadline stops it
                out.append({"task_id": t["task_id"], "solution": t["prompt"] + (
                    "    while True:\n        try:\n            while True:\n"
                    "                pass\n        except BaseException:\n            pass\n")})
                kinds.append("swallow")
            elif roll < 0.20:
                out.append({"task_id": t["task_id"], "completion": t["canonical_solution"]})
                kinds.append("completion")
            else:
                try:
                    code, kind = mutate(canonical, rng)
                except SyntaxError:
                    code, kind = canonical, "unparsable"
                out.append({"task_id": t["task_id"], "solution": code})
                kinds.append("mut-" + kind)
    return out, kinds


def patch_find_zero():
    import evalplus.eval as ev
    path = ev.__file__
    src = open(path).read()
    old = "                            assert abs(_poly(*inp, out)) <= atol\n                            continue\n"
    new = ("                            assert abs(_poly(*inp, out)) <= atol\n"
           "                            details[i] = True\n"
           "                            progress.value += 1\n"
           "                            continue\n")
    if new in src:
        return path
    if old not in src:
        sys.exit("cannot find the find_zero oracle to patch in " + path)
    backup = path + ".orig"
    if not os.path.exists(backup):
        open(backup, "w").write(src)
    open(path, "w").write(src.replace(old, new))
    return path


def statuses(results):
    return {tid: [(r["base_status"], r["plus_status"]) for r in rs]
            for tid, rs in results["eval"].items()}


def pass_at_k_text(results):
    import numpy as np
    from collections import OrderedDict
    total = np.array([len(r) for r in results["eval"].values()])
    base = np.array([sum(x["base_status"] == "pass" for x in r) for r in results["eval"].values()])
    plus = np.array([sum(x["base_status"] == x["plus_status"] == "pass" for x in r)
                     for r in results["eval"].values()])

    def est(n, c, k):
        if n - c < k:
            return 1.0
        return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))

    out = OrderedDict()
    for name, corr in (("base", base), ("plus", plus)):
        for k in (1, 10, 100):
            if total.min() >= k:
                v = np.mean([est(int(n), int(c), k) for n, c in zip(total, corr)])
                out["%s pass@%d" % (name, k)] = "%.3f" % v
    return out


def cmd_run(a):
    os.makedirs(a.workdir, exist_ok=True)
    raw, tasks = read_dataset(a.data)
    plain = os.path.join(a.workdir, os.path.basename(a.data).replace(".gz", ""))
    with open(plain, "wb") as f:
        f.write(raw)
    samples, kinds = make_samples(tasks, a.variants, a.seed, a.swallow)
    spath = os.path.join(a.workdir, "%s_mixed.jsonl" % a.dataset)
    with open(spath, "w") as f:
        for s in samples:
            f.write(json.dumps(s) + "\n")
    print("samples: %d (%s)" % (len(samples), spath), file=sys.stderr)
    if a.patch_find_zero:
        print("patched " + patch_find_zero(), file=sys.stderr)

    env = dict(os.environ)
    env["HUMANEVAL_OVERRIDE_PATH" if a.dataset == "humaneval" else "MBPP_OVERRIDE_PATH"] = plain
    ep_out = spath.replace(".jsonl", "_eval_results.json")
    if os.path.exists(ep_out):
        os.remove(ep_out)
    cmd = [sys.executable, "-m", "evalplus.evaluate", "--dataset", a.dataset, "--samples", spath,
           "--parallel", str(a.parallel), "--min-time-limit", "4"]
    if a.warm:
        # Ground truth is cached by both tools; time the evaluation only.
        pass
    t0 = time.time()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    t_ep = time.time() - t0
    mg_out = spath.replace(".jsonl", ".eval_results.json")
    cmd = [a.moegen, "evaluate", "--dataset", a.dataset, "--samples", spath, "--dataset-path",
           plain, "--parallel", str(a.parallel), "--i-just-wanna-run", "--quiet"]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t_mg = time.time() - t0

    ep, mg = json.load(open(ep_out)), json.load(open(mg_out))
    se, sm = statuses(ep), statuses(mg)
    diffs = []
    for tid in se:
        for i, (x, y) in enumerate(zip(se[tid], sm.get(tid, []))):
            if x != y:
                diffs.append((tid, i, x, y))
        if len(se[tid]) != len(sm.get(tid, [])):
            diffs.append((tid, -1, len(se[tid]), len(sm.get(tid, []))))
    from collections import Counter
    count = Counter((r["base_status"], r["plus_status"]) for rs in mg["eval"].values() for r in rs)
    pe, pm = pass_at_k_text(ep), pass_at_k_text(mg)
    print("| | EvalPlus %s | moegen |" % __import__("evalplus").__version__)
    print("|---|---|---|")
    print("| samples | %d | %d |" % (sum(len(v) for v in se.values()), sum(len(v) for v in sm.values())))
    for k in pe:
        print("| %s | %s | %s |" % (k, pe[k], pm.get(k)))
    print("| hash | %s | %s |" % (ep["hash"], mg["hash"]))
    print("| wall time (s, --parallel %d) | %.1f | %.1f |" % (a.parallel, t_ep, t_mg))
    print()
    print("status mix (moegen): " + ", ".join("%s/%s: %d" % (k[0], k[1], v) for k, v in sorted(count.items(), key=str)))
    print("mutation kinds: " + ", ".join("%s: %d" % kv for kv in sorted(Counter(kinds).items())))
    print("per-sample status differences: %d" % len(diffs))
    for d in diffs[:50]:
        print("  %s #%d EvalPlus %s moegen %s" % d)
    return 1 if diffs else 0


def cmd_sanitize(a):
    """Wraps every sample of a sample file in chat-style text (four styles) and
    compares moegen's sanitize.py with evalplus.sanitize (tree-sitter)."""
    from evalplus.sanitize import sanitize as ts_sanitize
    here = os.path.dirname(os.path.abspath(__file__))
    src = open(os.path.join(here, "..", "coordinator", "evaluate", "sanitize.py")).read()
    g = {}
    exec(src.rsplit("\nmain()", 1)[0], g)
    _, tasks = read_dataset(a.data)
    tasks = {t["task_id"]: t for t in tasks}
    rng = random.Random(a.seed)
    n = bad = 0
    t_ts = t_ast = 0.0
    for line in open(a.samples):
        r = json.loads(line)
        t = tasks[r["task_id"]]
        code = r["solution"] if "solution" in r else t["prompt"] + r["completion"]
        ep = t["entry_point"]
        style = rng.randrange(4)
        text = [code,
                "Here is the solution:\n```python\n" + code + "\n```\nIt works because of reasons.",
                "```python\n" + code + "\n\nprint(%s(1))\nassert True\n```\n" % ep,
                "Sure!\n\n```python\n" + code + "\n\nif __name__ == '__main__':\n"
                "    import doctest\n    doctest.testmod()\n```\nDone."][style]
        t0 = time.time()
        want = ts_sanitize(text, ep)
        t1 = time.time()
        got = g["sanitize"](text, ep)
        t2 = time.time()
        t_ts, t_ast = t_ts + t1 - t0, t_ast + t2 - t1
        n += 1
        if want != got:
            bad += 1
            print("DIFF %s\n  evalplus %r\n  moegen   %r" % (r["task_id"], want, got))
    print("cases %d, differences %d (tree-sitter %.1f s, ast %.1f s)" % (n, bad, t_ts, t_ast))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--moegen", required=True)
    r.add_argument("--dataset", choices=["humaneval", "mbpp"], required=True)
    r.add_argument("--data", required=True, help="dataset .jsonl or .jsonl.gz")
    r.add_argument("--variants", type=int, default=4, help="samples per task (1 canonical)")
    r.add_argument("--parallel", type=int, default=2)
    r.add_argument("--seed", type=int, default=20261126)
    r.add_argument("--workdir", default="/tmp/evcmp")
    r.add_argument("--patch-find-zero", action="store_true")
    r.add_argument("--warm", action="store_true")
    r.add_argument("--swallow", type=float, default=0.0,
                   help="share of samples that swallow the alarm (timeouts; slow)")
    z = sub.add_parser("sanitize")
    z.add_argument("--samples", required=True)
    z.add_argument("--data", required=True)
    z.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    sys.exit(cmd_run(a) if a.cmd == "run" else cmd_sanitize(a))


if __name__ == "__main__":
    main()

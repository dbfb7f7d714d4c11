# sanitize.py: EvalPlus's sanitizer (evalplus/sanitize.py) rebuilt on CPython's
# `ast` instead of tree-sitter, so that moegen needs nothing beyond python3.
# moegen embeds this file and runs `python3 -I -B -c <this file>` in the
# evaluation sandbox, once per codegen run or `moegen sanitize` file. The
# protocol (sanitizer.c): it writes the line "moegen-sanitize 1" on fd 4, then
# for each line on fd 3 — a JSON array [code, entry_point_or_null] — it writes
# one answer on fd 4: the byte length of the sanitized code in decimal, "\n",
# and the UTF-8 bytes (surrogateescape, so any byte the request carried as
# \udcXX comes back as that byte). Answers come in request order; EOF on fd 3
# ends it. The code is only parsed (ast.parse, never compile/exec/eval), so no
# sample code is executed here.
#
# Steps, as EvalPlus:
#   1. code_extract: the span of >= 2 lines that parses and has the most
#      non-blank lines (first one wins; nothing parses -> the first line).
#   2. keep top-level imports, undecorated classes, undecorated functions that
#      contain a `return`, and assignments, first definition of each name;
#   3. with an entry point, keep only definitions reachable from it through
#      the identifiers they mention;
#   4. imports then definitions, in source order, one per line; strip(); if
#      that is empty, the result of step 1.
# Known differences from tree-sitter are listed in docs/EVALUATION.md.
import ast
import json
import os
import re

_ANSI = re.compile(r"\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])")


def syntax_ok(code):
    try:
        ast.parse(code)
        return True
    except (SyntaxError, MemoryError, ValueError, RecursionError):
        return False


def code_extract(text):
    text = _ANSI.sub("", text)
    lines = text.split("\n")
    nonblank = [1 if ln.strip() else 0 for ln in lines]
    best, pair = 0, (0, 0)
    for i in range(len(lines)):
        count = nonblank[i]
        for j in range(i + 1, len(lines)):
            count += nonblank[j]
            # Only a strictly longer span can win, so spans that cannot beat
            # the best are not parsed; the chosen span is unchanged.
            if count > best and syntax_ok("\n".join(lines[i:j + 1])):
                best, pair = count, (i, j)
    return "\n".join(lines[pair[0]:pair[1] + 1])


def _segment(lines_b, node):
    # ast offsets are UTF-8 byte columns, as tree-sitter's byte ranges.
    first, last, end_col = node.lineno - 1, node.end_lineno - 1, node.end_col_offset
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        # tree-sitter keeps comments indented under a block inside it; ast
        # ends the block at its last statement.
        k = last + 1
        while k < len(lines_b):
            text = lines_b[k].rstrip(b"\r\n")
            body = text.lstrip(b" \t")
            if not body:
                k += 1
                continue
            if body.startswith(b"#") and len(text) - len(body) >= node.body[0].col_offset:
                last, end_col = k, len(text)
                k += 1
                continue
            break
    if first == last:
        return lines_b[first][node.col_offset:end_col]
    parts = [lines_b[first][node.col_offset:]]
    parts.extend(lines_b[first + 1:last])
    parts.append(lines_b[last][:end_col])
    return b"".join(parts)


def _assign_name(node):
    # tree-sitter names an assignment by its first identifier child: the
    # target when it is a plain name, otherwise the value when it is a plain
    # name (`a.b = c` is "c"), otherwise nothing.
    if isinstance(node, ast.Assign):
        target = node.targets[0]
        value = node.value if len(node.targets) == 1 else None
    else:
        target, value = node.target, node.value
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(value, ast.Name):
        return value.id
    return None


def _identifiers(node):
    names = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, ast.keyword) and n.arg:
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.update(n.name.split("."))
            if n.asname:
                names.add(n.asname)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            names.update(n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
    return names


def _has_return(node):
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def extract_target(code, entry_point):
    code = code_extract(code)
    try:
        tree = ast.parse(code)
    except (SyntaxError, MemoryError, ValueError, RecursionError):
        return ""
    lines_b = [ln + b"\n" for ln in code.encode("utf-8", "surrogateescape").split(b"\n")]
    seen = set()
    imports, defs = [], []
    for node in tree.body:
        if isinstance(node, ast.Import) or (
                isinstance(node, ast.ImportFrom) and node.module != "__future__"):
            imports.append(node)
        elif isinstance(node, ast.ClassDef) and not node.decorator_list:
            if node.name not in seen:
                defs.append((node.name, node))
                seen.add(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
            if node.name not in seen and _has_return(node):
                defs.append((node.name, node))
                seen.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            name = _assign_name(node)
            if name not in seen:
                defs.append((name, node))
                seen.add(name)
    reachable = None
    if entry_point:
        deps = {name: _identifiers(node) for name, node in defs}
        reachable, queue = {entry_point}, [entry_point]
        while queue:
            cur = queue.pop(0)
            for nb in deps.get(cur, ()):
                if nb not in reachable:
                    reachable.add(nb)
                    queue.append(nb)
    out = b""
    for node in imports:
        out += _segment(lines_b, node) + b"\n"
    for name, node in defs:
        if reachable is not None and name not in reachable:
            continue
        out += _segment(lines_b, node) + b"\n"
    return out[:-1].decode("utf-8", "surrogateescape")


def sanitize(code, entry_point=None):
    result = extract_target(code, entry_point).strip()
    if not result:
        return code_extract(code)
    return result


def main():
    requests = os.fdopen(3, "rb")
    answers = os.fdopen(4, "wb")
    answers.write(b"moegen-sanitize 1\n")
    answers.flush()
    for line in requests:
        if not line.strip():
            continue
        code, entry_point = json.loads(line)
        data = sanitize(code, entry_point).encode("utf-8", "surrogateescape")
        answers.write(b"%d\n" % len(data) + data)
        answers.flush()


main()

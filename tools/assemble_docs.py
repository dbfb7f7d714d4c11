#!/usr/bin/env python3
"""Builds docs/USAGE.md from docs/usage/*.md and docs/PERFORMANCE.md from
docs/perf/*.md, so each subcommand's page lands with its code and users
still read one file. Run after editing any of those pages."""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "docs"

USAGE_ORDER = ["codegen", "prompts", "generate", "bench", "inspect", "evaluate", "sanitize",
               "merge", "tokenize", "detokenize", "render-template", "bench-kernels", "worker",
               "version"]


def ordered(pages, order):
    rank = {name: i for i, name in enumerate(order)}
    return sorted(pages, key=lambda p: (rank.get(p.stem, len(order)), p.stem))


def demote(text):
    """Shifts a page's headings (outside code fences) so its top level is ##."""
    lines, fenced, levels = text.splitlines(), False, []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            levels.append(len(line) - len(line.lstrip("#")))
    shift = 2 - min(levels) if levels else 0
    out, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" * shift + line if not fenced and line.startswith("#") else line)
    return "\n".join(out) + "\n"


def assemble(src, dst, title, intro, order):
    pages = ordered(list((root / src).glob("*.md")), order)
    out = [f"# {title}\n\n", intro, "\n"]
    if pages:
        out.append("Contents: " + ", ".join(f"[{p.stem}](#{p.stem})" for p in pages) + "\n\n")
    for p in pages:
        text = demote(p.read_text().strip())
        out.append(f'<a id="{p.stem}"></a>\n\n' + text + "\n")
    (root / dst).write_text("".join(out))


assemble("usage", "USAGE.md", "Using moegen",
         "Every subcommand and flag, with an example. `moegen <command> --help` prints the same "
         "flags. Generated from `docs/usage/*.md` by `tools/assemble_docs.py`.\n",
         USAGE_ORDER)
assemble("perf", "PERFORMANCE.md", "moegen performance",
         "Every number here comes with the command that produced it and a reference measured in "
         "the same run on the same machine. Generated from `docs/perf/*.md` by "
         "`tools/assemble_docs.py`.\n", [])

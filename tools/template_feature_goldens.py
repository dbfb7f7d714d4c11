#!/usr/bin/env python3
"""Extra Jinja2 feature goldens for the template renderer (beyond ../shared's corpus).

Each case is rendered with Python Jinja2 configured as transformers configures it
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
transformers' tojson, raise_exception, strftime_now at 2025-07-10T12:00:00) and
written to tests/template/golden/features_extra.jsonl in the corpus schema:
    {"name", "template", "context", "jinja2_agrees": true, "expected"}
or, when Jinja2 raises, {"name", ..., "jinja2_agrees": false, "jinja2_error"}.
It also renders every real template of ../shared/chat-templates/hfjs-e2e.jsonl
on new conversations (golden/e2e_conversations.jsonl, same schema except that
"e2e_case" names the hfjs-e2e case whose template is used).
Usage: python3 tools/template_feature_goldens.py
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.sandbox


def make_env():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime(2025, 7, 10, 12, 0, 0).strftime(fmt)
    return env


C = {"msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
              {"role": "assistant", "content": "yo"}],
     "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, Wörld! ß", "n": None, "f": 2.5,
     "tree": [{"name": "a", "children": [{"name": "b", "children": []}]}, {"name": "c"}]}

CASES = [
    ("float_repr", "{{ 1.0 }} {{ 0.1 }} {{ 1e-05 }} {{ 1e16 }} {{ 123456789.125 }} {{ 2.5 * 2 }} {{ 1/3 }} {{ 10/2 }} {{ -0.0 }} {{ 1e300*1e10 }}", {}),
    ("int_ops", "{{ 7 // -2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 5.5 // 2 }} {{ -5.5 % 2 }}", {}),
    ("repr_nested", "{{ [1, 'a', none, true, 1.5, {'k': ('x',)}, [\"it's\"], 'say \"hi\"'] }}", {}),
    ("repr_escapes", "{{ ['a\\nb', 'tab\\t', 'back\\\\slash', \"both ' and \\\"\"] }}", {}),
    ("dict_print", "{{ d }}|{{ d.items() | list }}|{{ d.keys() | list }}|{{ d | dictsort }}", C),
    ("tojson_variants", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}|{{ s | tojson }}|{{ s | tojson(ensure_ascii=true) }}|{{ f | tojson }}|{{ n | tojson }}|{{ (1, 2) | tojson }}|{{ {1: 'a', true: 'b'} | tojson }}", C),
    ("tojson_indent_str", "{{ d | tojson(indent='\\t', sort_keys=true) }}", C),
    ("string_methods", "{{ s.upper() }}|{{ s.lower() }}|{{ s.title() }}|{{ s.capitalize() }}|{{ s.split(',') }}|{{ s.replace('l', 'L', 2) }}|{{ s.find('W') }}|{{ s.startswith(('x', 'He')) }}|{{ s.endswith('ß') }}|{{ s[::-1] }}|{{ s[2:5] }}|{{ s | length }}|{{ s.count('l') }}", C),
    ("strip_family", "[{{ '  x  '.strip() }}][{{ 'xxhixx'.strip('x') }}][{{ '\\t x \\n'.lstrip() }}][{{ 'ab  '.rstrip() }}][{{ '  x '|trim }}][{{ 'zzaz'|trim('z') }}]", {}),
    ("split_rsplit", "{{ 'a b  c'.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a b c'.rsplit(' ', 1) }}{{ '  a  b '.split(none, 1) }}{{ 'x'.split('x') }}", {}),
    ("format_ops", "{{ '%s-%d-%05.1f-%x-%r' % ('a', 3, 2.25, 255, 'q') }}|{{ '%(a)s+%(b)s' % {'a': 1, 'b': 2} }}|{{ '{}:{:>4}:{:<3}|{:^7}|{:.2f}|{:05d}|{name}'.format('x', 'y', 'z', 'mid', 3.14159, 42, name='N') }}|{{ 'x=%s' | format(5) }}", {}),
    ("loop_vars", "{% for m in msgs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem.role if loop.previtem is defined else '-' }}{{ loop.nextitem.role if loop.nextitem is defined else '-' }}{{ loop.cycle('x', 'y') }};{% endfor %}", C),
    ("loop_else_filter", "{% for m in msgs if m.role != 'system' %}{{ m.role }}{{ loop.length }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", C),
    ("loop_changed_depth", "{% for x in [1, 1, 2, 2, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", {}),
    ("recursive_loop", "{% for item in tree recursive %}[{{ loop.depth }}{{ item.name }}{% if item.children %}{{ loop(item.children) }}{% endif %}]{% endfor %}", C),
    ("scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set y = 5 %}{% endif %}{{ y }}{% set ns = namespace(t=0) %}{% for i in range(4) %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}", {}),
    ("macro_defaults_caller", "{% macro m(a, b=a ~ '!', c=none) %}{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 2, 3) }}|{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}", {}),
    ("block_set_filter", "{% set x | upper %}abc {{ 1 + 1 }}{% endset %}{{ x }}|{% filter replace('a', 'o') | upper %}banana{% endfilter %}", {}),
    ("with_stmt", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}", {}),
    ("ws_trim_lstrip", "<ul>\n  {% for i in [1, 2] %}\n    <li>{{ i }}</li>\n  {% endfor %}\n</ul>\n", {}),
    ("ws_plus_markers", "a\n  {%+ if true %}x{% endif +%}\nb\n  {#- c -#}  \nd {% if 1 %}\n\ne{% endif %}", {}),
    ("ws_comment_trim", "x\n{# comment #}\ny\n   {# indented #}\nz", {}),
    ("ws_var_no_lstrip", "a\n    {{ 'v' }}\n  {% if true %}\nb\n  {% endif %}\nc", {}),
    ("raw_block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|\n  {% raw -%}  x  {%- endraw %}|", {}),
    ("trailing_newline", "one\n\n", {}),
    ("crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n", {}),
    ("tests_misc", "{{ 3 is divisibleby 3 }}{{ 4 is even }}{{ f is float }}{{ 1 is integer }}{{ true is number }}{{ msgs is sequence }}{{ d is mapping }}{{ s is iterable }}{{ n is none }}{{ x is undefined }}{{ 'a' is in 'cat' }}{{ 2 is gt 1 }}{{ 2 is le 1 }}{{ 'abc' is lower }}{{ none is sameas none }}{{ range is callable }}{{ 'upper' is filter }}", C),
    ("filters_seq", "{{ [3, 1, 2] | sort | first }}{{ [3, 1, 2] | max }}{{ [3, 1, 2] | min }}{{ [3, 1, 2] | sum }}{{ [3, 1, 2] | reverse | list }}{{ 'abc' | reverse }}{{ [1, 2, 2, 3] | unique | list }}{{ msgs | map(attribute='role') | join(',') }}{{ msgs | selectattr('role', 'eq', 'user') | map(attribute='content') | first }}{{ [1, 2, 3, 4] | select('odd') | list }}{{ [1, 2, 3, 4] | reject('odd') | list }}{{ msgs | rejectattr('role', 'in', ['system']) | list | length }}{{ ['a', 'B'] | map('upper') | list }}{{ [1, 2, 3, 4, 5] | batch(2) | list }}", C),
    ("filters_scalar", "{{ -3 | abs }}{{ 2.567 | round(2) }}{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.1 | round(0, 'ceil') }}{{ '42' | int + 1 }}{{ '0x1A' | int(0, 16) }}{{ '3.9' | int }}{{ 'x' | float }}{{ 7 | string + 'a' }}{{ n | default('dflt') }}{{ '' | default('e', true) }}{{ 'a<b>&\"' | escape }}{{ 'hello world foo' | wordcount }}{{ 'x' | center(7) }}", C),
    ("indent_filter", "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent('--', true) }}|{{ 'a\\n\\nb' | indent(blank=true) }}", {}),
    ("groupby_filter", "{% for g in [{'k': 'x', 'v': 1}, {'k': 'y', 'v': 2}, {'k': 'x', 'v': 3}] | groupby('k') %}{{ g.grouper }}={{ g.list | map(attribute='v') | list }};{% endfor %}", {}),
    ("dict_methods", "{{ d.get('a') }}{{ d.get('zz', 'no') }}{{ d.get('zz') }}{{ d.values() | list }}{{ 'a' in d }}{{ d['b'] }}{{ d.b }}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", C),
    ("undefined_behaviour", "[{{ x }}][{{ x | length }}][{{ x | default(1) }}][{% for i in x %}{{ i }}{% endfor %}][{{ x is defined }}][{{ d.zz }}][{{ msgs[10] }}][{{ x == x }}][{{ x | list }}][{{ x ~ 'a' }}]", C),
    ("undefined_attr_error", "{{ x.y }}", {}),
    ("undefined_add_error", "{{ x + 1 }}", {}),
    ("raise_exception_msg", "{% if true %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}", {}),
    ("strftime_fixed", "{{ strftime_now('%Y-%m-%d %H:%M %A %B %d %b') }}", {}),
    ("membership_compare", "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'ab' < 'b' }}{{ [1, 2] < [1, 3] }}{{ (1, 2) == (1, 2) }}{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' not in 'xyz' }}{{ none in [none] }}", {}),
    ("conditional_chain", "{{ 'a' if n else 'b' if f > 3 else 'c' }}{{ (1 if false) is defined }}{{ not n and f }}{{ n or 0 or '' or 'last' }}", C),
    ("string_concat_tilde", "{{ 1 ~ 2 ~ none ~ true ~ [1] ~ n ~ x }}", C),
    ("slicing", "{{ [0,1,2,3,4,5][::2] }}{{ [0,1,2,3,4,5][-2:] }}{{ [0,1,2,3,4,5][4:1:-1] }}{{ 'héllo'[1:4] }}{{ (1,2,3)[1:] }}{{ [1,2,3][10:] }}", {}),
    ("escapes_in_literals", "{{ 'a\\x41\\u00e9\\U0001F917\\101\\q' }}|{{ \"line\\none\" }}", {}),
    ("list_literal_trailing", "{{ [1, 2,] }}{{ (1,) }}{{ {'a': 1,} }}{{ () }}", {}),
    ("items_on_ns_attr", "{% set ns = namespace(a=1, b=[1]) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}", {}),
    ("unsafe_attr", "{{ ''.__class__ is defined }}{{ msgs.append is defined }}", C),
    ("mutation_blocked", "{{ msgs.append(1) }}", C),
    ("range_too_big", "{{ range(200000) | length }}", {}),
    ("range_ok", "{{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ range(5, 0, -2) | list }}{{ range(0) | list }}", {}),
    ("joiner_global", "{% set j = joiner(' | ') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}", {}),
    ("dict_global", "{{ dict(a=1, b=2) }}{{ dict(a=1)['a'] }}", {}),
    ("test_with_arg_no_parens", "{{ 2 is divisibleby 2 }}{{ msgs[0].role is eq 'system' }}{{ 'x' is string and 1 is number }}", C),
    ("getattr_int_key", "{{ msgs.0.role }}{{ msgs[-1]['content'] }}", C),
    ("nested_macro_recursion", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", {}),
    ("macro_extra_positional", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("macro_varargs_used", "{% macro m(a) %}{{ a }}{{ varargs }}{% endmacro %}{{ m(1, 2, 3) }}", {}),
    ("macro_unknown_keyword", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}", {}),
    ("macro_kwargs_used", "{% macro m(a) %}{{ a }}{{ kwargs }}{% endmacro %}{{ m(1, b=2) }}", {}),
    ("call_without_caller_use", "{% macro m() %}x{% endmacro %}{% call m() %}y{% endcall %}", {}),
    ("caller_undefined_outside_call", "{% macro m() %}[{{ caller is defined }}]{% endmacro %}{{ m() }}", {}),
    ("dict_views", "{{ d.items() }}|{{ d.keys() }}|{{ d.values() }}|{{ d.items() | length }}|{{ d.items()[0] }}|{{ d.keys() | list }}|{{ 'a' in d.keys() }}|{{ [d.items()] }}{{ d.items() == d.items() }}{{ d.keys() == ['a'] }}{{ d.values() == d.values() }}{{ d.items() is sequence }}{{ d.items() | reverse | list }}{{ d.items() | sort }}{{ d.items() | first }}{{ d.items() | last }}", C),
    ("dict_view_tojson_error", "{{ d.values() | tojson }}", C),
    ("dict_view_slice_error", "{{ d.items()[1:] }}", C),
    ("generator_once", "{% set g = l | select %}{{ g | list }}{{ g | list }}|{% set m = l | map('string') %}{% for x in m %}{{ x }}{% endfor %}{% for x in m %}{{ x }}{% endfor %}|{% set h = l | select %}{% set k = h | map('string') %}{{ h | list }}{{ k | list }}|{% set q = l | select %}{{ q | first }}{{ q | list }}|{% set w = l | select %}{{ 1 in w }}{{ w | list }}|{% set z = l | reject('odd') %}{{ z | join(',') }}{{ z | join(',') }}", {"l": [3, 1, 2]}),
    ("generator_derived_first", "{% set g = l | select %}{% set h = g | map('string') %}{{ h | list }}{{ g | list }}|{% set u = l | unique %}{{ u | list }}{{ u | list }}", {"l": [3, 1, 3, 2]}),
    ("markup_semantics", "{{ '<a>' | escape ~ '<b>' }}|{{ '<a>' | escape + '<b>' }}|{{ '<a>' | safe + '<b>' }}|{{ '<b>' + ('<a>' | safe) }}|{{ ('<a>' | escape).replace('a', '<') }}|{{ '%s<' | safe % '<' }}|{{ '<' | e | e }}|{{ '<' | forceescape | forceescape }}|{{ ['<'] | join('&') | e }}|{{ ('a<' | safe).upper() }}|{{ [('x' | safe), 'y' | e] }}|{{ ('a,<b' | safe).split(',') }}|{{ ('<i>' | safe)[1:] }}|{{ ('x' | safe) * 2 + '&' }}|{{ ('{}' | safe).format('<') }}|{{ (', ' | safe).join(['<', 'b']) }}|{{ ('ab' | safe) | upper + '<' }}|{{ (('a' | safe) ~ '<') + '>' }}|{{ 'q' | safe == 'q' }}|{{ none | safe }}{{ (none | safe) + '<' }}", {}),
    ("is_not_tests", "{{ n is not none }}{{ s is not string }}{{ not s is string }}", C),
    ("unicode_upper_special", "{{ 'ǆ straße ﬁ'.upper() }}|{{ 'ǅ'.lower() }}|{{ 'hello wORLD'.title() }}|{{ 'ÉCOLE'.lower() }}", {}),
]


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker outside assistant-mask mode: renders the body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def e2e_with_evalplus(shared):
    """Every real template of hfjs-e2e.jsonl on new conversations: EvalPlus'
    [user, assistant] pair and a system + user turn, with and without the
    generation prompt (special tokens as in the case's own context)."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    base = make_env()
    env.filters["tojson"] = base.filters["tojson"]
    env.globals.update({k: base.globals[k] for k in ("raise_exception", "strftime_now")})
    user = ("Please provide a self-contained Python script that solves the following problem in a "
            "markdown code block:\n```\ndef f(x):\n    \"\"\"Return x + 1.\"\"\"\n```\n")
    convs = [
        ("evalplus", [{"role": "user", "content": user},
                      {"role": "assistant", "content": "Below is a script:\n```python\n-[[]]-\n```\n"}]),
        ("system_user", [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Ünïcode 🤗 & <b>"}]),
    ]
    rows = []
    path = os.path.join(shared, "chat-templates", "hfjs-e2e.jsonl")
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        for cname, msgs in convs:
            for agp in ((False,) if cname == "evalplus" else (True,)):
                ctx = {k: v for k, v in d["context"].items() if k.endswith("_token")}
                ctx.update({"messages": msgs, "add_generation_prompt": agp})
                # the template itself is read back from ../shared by its case name
                row = {"name": f"{d['name']} / {cname} / agp={agp}", "e2e_case": d["name"],
                       "context": ctx}
                try:
                    row["expected"] = env.from_string(d["template"]).render(**ctx)
                    row["jinja2_agrees"] = True
                except Exception as e:
                    row["jinja2_agrees"] = False
                    row["jinja2_error"] = f"{type(e).__name__}: {e}"
                rows.append(row)
    return rows


def main():
    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    out2 = os.path.join(os.path.dirname(__file__), "..", "tests", "template", "golden", "e2e_conversations.jsonl")
    rows = e2e_with_evalplus(shared)
    with open(out2, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases to {out2}")
    env = make_env()
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "template", "golden", "features_extra.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for name, tpl, ctx in CASES:
            row = {"name": name, "template": tpl, "context": ctx}
            try:
                row["expected"] = env.from_string(tpl).render(**ctx)
                row["jinja2_agrees"] = True
            except Exception as e:
                row["jinja2_agrees"] = False
                row["jinja2_error"] = f"{type(e).__name__}: {e}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()

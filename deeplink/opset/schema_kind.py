"""Is an aten schema functional, in-place, out= or otherwise mutating?

The rules are torchgen's (`FunctionSchema.kind()` in torchgen/model.py), restated on the schema
string so that classifying ~2,600 schemas needs no torchgen import:

- in-place: the base name ends in `_` (`add_`), or is an augmented-assignment dunder (`__iadd__`);
- out:      a keyword-only argument is written to (`*, Tensor(a!) out`);
- mutable:  a positional argument after `self` is written to (`_fused_moving_avg_obs_fq_helper`);
- functional: none of the above (views such as `view` and `t` are functional too).

tests/opset/test_schema_kind.py checks these rules against torchgen on every schema of the yaml.
"""
from __future__ import annotations

FUNCTIONAL = "functional"
INPLACE = "inplace"
OUT = "out"
MUTABLE = "mutable"
SCRATCH = "scratch"   # out= ops with `_scratch_*` workspace outputs (torchgen's name)
KINDS = (FUNCTIONAL, INPLACE, OUT, MUTABLE, SCRATCH)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets and quotes: `int[2] a=[0, 0], str b='x,y'` -> 2 parts."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _arguments(schema: str) -> str:
    """The text between the argument list's parentheses."""
    open_at = schema.index("(")
    depth = 0
    for i in range(open_at, len(schema)):
        if schema[i] == "(":
            depth += 1
        elif schema[i] == ")":
            depth -= 1
            if depth == 0:
                return schema[open_at + 1:i]
    raise ValueError(f"unbalanced parentheses in schema {schema!r}")


def _is_inplace_name(base: str) -> bool:
    if base.startswith("__") and base.endswith("__"):
        return base[2:3] == "i"       # __iadd__, __ior__; torchgen forbids other dunders with i
    return base.endswith("_")


def _arg_parts(arg: str) -> tuple[str, str]:
    """`"Tensor(a!) out"` -> (type, name); defaults (`=...`) are dropped."""
    decl = split_top_level(arg, "=")[0] if "=" in arg else arg
    type_, _, name = decl.strip().rpartition(" ")
    return type_, name


def schema_kind(schema: str) -> str:
    """One of KINDS for a schema such as `add.out(Tensor self, ..., *, Tensor(a!) out) -> Tensor(a!)`."""
    base = schema[:schema.index("(")].split(".", 1)[0]
    positional, keyword_only, seen_star = [], [], False
    for arg in split_top_level(_arguments(schema)):
        if arg == "*":
            seen_star = True
            continue
        (keyword_only if seen_star else positional).append(_arg_parts(arg))
    outs = [name for type_, name in keyword_only if "!" in type_]
    names = [name for _, name in positional]
    after_self = positional[names.index("self") + 1:] if "self" in names else positional
    if _is_inplace_name(base):
        return INPLACE
    if any(name.startswith("_scratch_") for name in outs):
        return SCRATCH
    if outs:
        return OUT
    if any("!" in type_ for type_, _ in after_self):
        return MUTABLE
    return FUNCTIONAL

"""Own generators for arguments no golden OpInfo sample exercises (the `generated` case source).

Each generator module lists its cases and builds a program with execute(device) / check(outputs);
the reference is ATen CPU in float64 on the same inputs, and the report labels it so.

    enumerate_cases(dtypes) -> [(overload, kind, dtype, index, params)]     (parent, cheap)
    build(case) -> program                                                  (worker)
"""
from __future__ import annotations

from . import backward_arguments

GENERATORS = (backward_arguments,)


def enumerate_cases(dtypes: list[str]):
    return [c for g in GENERATORS for c in g.enumerate_cases(dtypes)]


def build(case: dict):
    for g in GENERATORS:
        if case["op"] in g.OPS:
            return g.build(case)
    raise KeyError(f"case {case['id']}: no generator for {case['op']}")

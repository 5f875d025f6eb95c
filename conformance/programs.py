"""Build the runnable program for a case, by where the case comes from."""
from __future__ import annotations


def build(case: dict):
    if case["source"] == "opinfo":
        from .opinfo_programs import build as build_opinfo  # noqa: PLC0415

        return build_opinfo(case)
    if case["source"] == "llm":
        from .llm_cases import build as build_llm  # noqa: PLC0415

        return build_llm(case)
    if case["source"] == "variant":
        from .variants import VariantProgram  # noqa: PLC0415

        return VariantProgram(case)
    if case["source"] == "generated":
        from .generators import build as build_generated  # noqa: PLC0415

        return build_generated(case)
    raise ValueError(f"case {case['id']}: unknown source {case['source']!r}")

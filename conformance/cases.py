"""The list of cases a run consists of, built in the parent process.

Two sources, kept apart:
* `opinfo`: one case per golden sample (forward file) and per gradient sample (gradients file).
  The aten overloads the sample reached on CUDA (recorded in the golden data) are what the case
  is rolled up under.
* `llm`: own generators for LLM-tier ops no OpInfo sample reaches (conformance/llm_cases.py);
  the reference is ATen CPU in float64, and each such case says so.
* `variant`: variants of golden samples (non-contiguous, channels_last, expanded, extremal values,
  ties, in-place, out=; conformance/variants.py), judged against ATen CPU in float64.
* `generated`: own generators for arguments no golden sample exercises (conformance/generators/),
  judged against ATen CPU in float64.

A case id is stable across runs (source/kind/dtype/op/index), which is what makes resuming work.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .golden import FORWARD, GRADIENTS
from deeplink.opset.names import from_traced_all
from .nondeterminism import draws_dropout, touches_random
from .statuses import SKIP


@dataclass
class Case:
    id: str
    source: str             # "opinfo" | "llm"
    kind: str               # "forward" | "gradients"
    dtype: str
    op: str                 # OpInfo key, or the aten overload a generator targets
    index: int
    aten: list[str]         # overloads the case is rolled up under
    payload: dict = field(repr=False, default_factory=dict)   # what the worker receives
    preset: dict | None = None   # a result known without running (e.g. CUDA raised)


def case_id(source: str, kind: str, dtype: str, op: str, index: int) -> str:
    return f"{source}/{'fwd' if kind == FORWARD else 'grad'}/{dtype}/{op}/{index}"


def _opinfo_cases(golden: dict, kind: str, dtype: str, selected, nondeterministic: set[str]) -> list[Case]:
    from .opinfo_db import PROCESSED_OUTPUT  # noqa: PLC0415

    out = []
    for key, entry in golden["ops"].items():
        if not selected(key):
            continue
        for index, sample in enumerate(entry["samples"]):
            aten = from_traced_all(sample.get("aten_backward" if kind == GRADIENTS else "aten", []))
            nondet = (bool(entry.get("nondeterministic")) or key in nondeterministic or touches_random(aten)
                      or draws_dropout(sample))
            cid = case_id("opinfo", kind, dtype, key, index)
            if "error" in sample:
                preset = {"id": cid, "status": SKIP, "reference": "cuda-golden",
                          "message": "no golden value: the sample raised on CUDA: " + sample["error"][:300]}
                out.append(Case(cid, "opinfo", kind, dtype, key, index, aten, {}, preset))
                continue
            payload = {"id": cid, "source": "opinfo", "kind": kind, "dtype": dtype, "op": key,
                       "name": entry["name"], "index": index, "aten": aten, "sample": sample,
                       "nondeterministic": nondet,
                       "processed": sample.get("processed", key in PROCESSED_OUTPUT)}
            out.append(Case(cid, "opinfo", kind, dtype, key, index, aten, payload))
    return out


def _llm_cases(dtypes: list[str], selected) -> list[Case]:
    from .llm_cases import enumerate_cases  # noqa: PLC0415

    out = []
    for op, dtype, index, params in enumerate_cases(dtypes):
        if not selected(op):
            continue
        cid = case_id("llm", params.get("kind", FORWARD), dtype, op, index)
        payload = {"id": cid, "source": "llm", "kind": params.get("kind", FORWARD), "dtype": dtype,
                   "op": op, "index": index, "params": params, "aten": [op]}
        out.append(Case(cid, "llm", payload["kind"], dtype, op, index, [op], payload))
    return out


def make_selector(pattern: str | None):
    """--ops REGEX: searched (re.search) in the OpInfo key or the generated case's aten overload."""
    if not pattern:
        return lambda name: True
    rx = re.compile(pattern)
    return lambda name: rx.search(name) is not None


def _generated_cases(dtypes: list[str], selected) -> list[Case]:
    from .generators import enumerate_cases  # noqa: PLC0415

    out = []
    for op, kind, dtype, index, params in enumerate_cases(dtypes):
        if not selected(op):
            continue
        cid = case_id("generated", kind, dtype, op, index)
        payload = {"id": cid, "source": "generated", "kind": kind, "dtype": dtype, "op": op,
                   "index": index, "params": params, "aten": [op]}
        out.append(Case(cid, "generated", kind, dtype, op, index, [op], payload))
    return out


def build_cases(goldens: dict, dtypes: list[str], ops: str | None = None,
                include_llm: bool = True, include_gradients: bool = True,
                include_variants: bool = True) -> list[Case]:
    """`goldens`: {(kind, dtype): loaded golden dict}."""
    selected = make_selector(ops)
    # OpInfos flagged nondeterministic, or every forward sample of which draws random numbers
    # (their gradients then depend on the draw too).
    nondeterministic = set()
    for (kind, _), g in goldens.items():
        if kind != FORWARD:
            continue
        for k, e in g["ops"].items():
            ran = [s for s in e["samples"] if "error" not in s]
            if e.get("nondeterministic") or (ran and all(touches_random(from_traced_all(s["aten"])) for s in ran)):
                nondeterministic.add(k)
    cases: list[Case] = []
    for dtype in dtypes:
        if (FORWARD, dtype) in goldens:
            cases += _opinfo_cases(goldens[(FORWARD, dtype)], FORWARD, dtype, selected, nondeterministic)
        if include_gradients and (GRADIENTS, dtype) in goldens:
            cases += _opinfo_cases(goldens[(GRADIENTS, dtype)], GRADIENTS, dtype, selected, nondeterministic)
    if include_variants:
        from .variants import variant_cases  # noqa: PLC0415

        for dtype in dtypes:
            if (FORWARD, dtype) in goldens:
                cases += variant_cases(goldens[(FORWARD, dtype)], dtype, selected, nondeterministic)
        cases += _generated_cases(dtypes, selected)
    if include_llm:
        cases += _llm_cases(dtypes, selected)
    return cases

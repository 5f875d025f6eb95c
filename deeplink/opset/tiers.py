"""The tiers of the operator set, each defined by a rule over the data (never by a hand-kept list)."""
from __future__ import annotations

from typing import Iterable

LLM, CORE, CUDA = "llm", "core", "cuda"
ALL = "all"   # the union of the tiers, for listings

TIERS = {
    LLM: "aten overloads of real LLM training steps (forward, backward, AdamW) on the CUDA path "
         "(deeplink/data/llm_workloads_cuda.json, all workloads)",
    CORE: "PyTorch's Core ATen set: overloads tagged `core` in native_functions.yaml",
    CUDA: "functional overloads with a dense CUDA kernel (native_functions.yaml or the CUDA build's "
          "registrations)",
}


def tiers_of(name: str, *, tags: Iterable[str], functional: bool, cuda_kernel: bool,
             llm_ops: frozenset[str]) -> tuple[str, ...]:
    tiers = []
    if "core" in tags:
        tiers.append(CORE)
    if functional and cuda_kernel:
        tiers.append(CUDA)
    if name in llm_ops:
        tiers.append(LLM)
    return tuple(tiers)

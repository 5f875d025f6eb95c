"""Access to PyTorch's OpInfo database (`op_db`) from a worker process.

The golden data stores each sample's inputs and outputs, but not the Python callable nor the
sample's `output_process_fn_grad` (a function cannot be stored). Both come from the installed
torch's op_db, looked up by the golden KEY. Importing op_db costs ~1.5 s, so it happens once per
worker, lazily (generated LLM-tier cases never need it).
"""
from __future__ import annotations

import functools

import torch

from .tolerance import OPINFO_TEST_CLASSES

MAX_SAMPLES = 48   # the golden sampling rule's cap per OpInfo (see draw_samples)

# OpInfos whose samples carry a non-identity `output_process_fn_grad` (it normalises sign or
# ordering ambiguities, or keeps only some outputs); the golden `out` went through it. Found by
# drawing every OpInfo's float32 samples on torch 2.11-2.13; tests/conformance/test_opinfo_db.py
# re-derives it from the installed torch (golden files recorded by `conformance record` also mark
# such samples with "processed": True, so this list only matters for older recordings).
PROCESSED_OUTPUT = frozenset({
    "lu_unpack", "svd", "svd_lowrank", "pca_lowrank", "to_sparse", "linalg.eig", "linalg.eigh",
    "linalg.eigvalsh", "linalg.lu_factor", "linalg.lu_factor_ex", "linalg.lu", "linalg.svd",
})


def opinfo_key(name: str, variant: str) -> str:
    """The golden data's key for an OpInfo: `op.name` plus `.variant_test_name` when set."""
    return f"{name}.{variant}" if variant else name


def opinfo_seed(key: str) -> int:
    """The seed set before drawing an OpInfo's samples (the golden sampling rule, draw_samples)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key)) % 2**31


def spread(items: list, limit: int = MAX_SAMPLES) -> list:
    """At most `limit` items, evenly spread over the list: the ones at indices int(i * n / limit)."""
    n = len(items)
    if n <= limit:
        return items
    return [items[int(i * n / limit)] for i in range(limit)]


@functools.lru_cache(maxsize=1)
def op_db_by_key() -> dict:
    from torch.testing._internal.common_methods_invocations import op_db  # noqa: PLC0415

    return {opinfo_key(op.name, op.variant_test_name): op for op in op_db}


def get_opinfo(key: str):
    op = op_db_by_key().get(key)
    if op is None:
        raise KeyError(f"OpInfo {key!r} is in the golden data but not in this torch's op_db "
                       f"(torch {torch.__version__}); re-record the golden data with this torch")
    return op


def has_identity_output_process(sample) -> bool:
    return "SampleInput.__init__" in getattr(sample.output_process_fn_grad, "__qualname__", "")


def draw_samples(op, key: str, dtype: torch.dtype, requires_grad: bool) -> list:
    """The golden sampling rule, the one place it is written (docs/conformance.md): seed torch with
    opinfo_seed(KEY), draw `op.sample_inputs("cpu", dtype, requires_grad=...)`, keep at most
    MAX_SAMPLES spread evenly over them. The recorder (record.py) then drops samples over 64 KiB of
    input; replay (output_process.py) and the benchmark draw the same list to find each sample again."""
    torch.manual_seed(opinfo_seed(key))
    return spread(list(op.sample_inputs("cpu", dtype, requires_grad=requires_grad)))


def tolerance_overrides(op, dtype: torch.dtype) -> dict:
    """{dtype: (rtol, atol, where)}: the largest OpInfo toleranceOverride for CUDA (or any device)
    in value-comparing test classes (conformance/tolerance.py explains the choice)."""
    from torch.testing._internal.common_device_type import toleranceOverride  # noqa: PLC0415

    best = None
    for info in getattr(op, "decorators", ()):
        decorators = getattr(info, "decorators", None)
        if not decorators or getattr(info, "device_type", None) not in (None, "cuda"):
            continue
        if getattr(info, "cls_name", None) not in OPINFO_TEST_CLASSES:
            continue
        if "mps" in (getattr(info, "test_name", None) or ""):      # e.g. test_numpy_ref_mps
            continue
        dtypes = getattr(info, "dtypes", None)
        if dtypes is not None and dtype not in dtypes:
            continue
        for dec in decorators:
            if isinstance(dec, toleranceOverride) and dtype in dec.d:
                tol = dec.d[dtype]
                where = f"{info.cls_name or 'any'}.{info.test_name or '*'}@{info.device_type or 'any'}"
                if best is None or (tol.rtol, tol.atol) > best[:2]:
                    best = (tol.rtol, tol.atol, where)
    return {dtype: best} if best else {}


@functools.lru_cache(maxsize=4096)
def tolerance_overrides_cached(key: str, dtype: torch.dtype) -> dict:
    return tolerance_overrides(get_opinfo(key), dtype)

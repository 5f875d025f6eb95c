"""Case statuses (DESIGN.md contract) and how they combine.

pass             ran natively on the backend and matched the reference
mismatch         ran, but the values (or shapes, dtypes, properties) differ beyond tolerance
error            raised an exception that CUDA did not raise
not_implemented  the backend has no way to run an op (NotImplementedError from the dispatcher)
fallback         ran and matched, but some op fell back to the CPU: not native, never `pass`
crash            the worker process died (segfault, abort) inside the case
timeout          the case did not finish within the per-case time limit
skip             not checkable here; the reason says why (no golden value, CUDA raised, ...)
"""
from __future__ import annotations

PASS, MISMATCH, ERROR, NOT_IMPLEMENTED = "pass", "mismatch", "error", "not_implemented"
FALLBACK, CRASH, TIMEOUT, SKIP = "fallback", "crash", "timeout", "skip"

ALL = (PASS, MISMATCH, ERROR, NOT_IMPLEMENTED, FALLBACK, CRASH, TIMEOUT, SKIP)
FAILURES = (MISMATCH, ERROR, NOT_IMPLEMENTED, CRASH, TIMEOUT)

# When one op gets several statuses (from several samples), the most severe one is its status.
SEVERITY = {CRASH: 7, TIMEOUT: 6, ERROR: 5, MISMATCH: 4, NOT_IMPLEMENTED: 3, FALLBACK: 2, PASS: 1, SKIP: 0}


def worst(statuses) -> str | None:
    statuses = list(statuses)
    return max(statuses, key=SEVERITY.__getitem__) if statuses else None

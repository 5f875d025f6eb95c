"""Which path each collective took, counted per process group: the collective counterpart of
deeplink.op_stats(). A path names the collective library and how tensors reached it:

    gloo:cpu              CPU tensors, straight to gloo
    gloo:host-view        deeplink tensors of a host-memory backend, zero-copy host views into gloo
    hccl, nccl, ...       the backend's own collective library (Collectives.library)
    gloo:staged-mixed     copied to host memory and back: the group mixes vendors whose libraries
                          cannot talk to each other, so this rank meets the others in gloo
    gloo:staged-fallback  copied to host memory and back: the backend has no collectives at all
                          (counted like an op fallback; DEEPLINK_FALLBACK=error refuses it)
"""
from __future__ import annotations

import threading
from collections import Counter

HOST_VIEW = "gloo:host-view"
CPU = "gloo:cpu"
STAGED_MIXED = "gloo:staged-mixed"
STAGED_FALLBACK = "gloo:staged-fallback"
STAGED = (STAGED_MIXED, STAGED_FALLBACK)

# Collectives the C++ fast path of host views counts itself (csrc/distributed/fast_path.h), in
# the order of its counters.
FAST_PATH_COLLECTIVES = ("all_reduce", "broadcast", "all_gather_into_tensor", "reduce_scatter_tensor")

_lock = threading.Lock()
_counts: dict[str, Counter] = {}          # group name -> Counter[(collective, path)]
_bytes: dict[str, Counter] = {}           # group name -> Counter[(collective, path)] of payload bytes
_fast: dict[str, list] = {}               # group name -> int64 tensors the fast path counts into
_fallbacks: Counter = Counter()           # collective -> STAGED_FALLBACK calls since reset_fallbacks()


def record(group: str, collective: str, path: str, nbytes: int) -> None:
    with _lock:
        _counts.setdefault(group, Counter())[(collective, path)] += 1
        _bytes.setdefault(group, Counter())[(collective, path)] += nbytes
        if path == STAGED_FALLBACK:
            _fallbacks[collective] += 1


def fast_path_counters(group: str):
    """A new (calls, bytes) counter table for one fast path of `group`, read by collective_stats."""
    import torch
    counters = torch.zeros(len(FAST_PATH_COLLECTIVES), 2, dtype=torch.int64)
    with _lock:
        _fast.setdefault(group, []).append(counters)
    return counters


def _merged() -> tuple:
    counts = {g: Counter(c) for g, c in _counts.items()}
    nbytes = {g: Counter(b) for g, b in _bytes.items()}
    for g, tables in _fast.items():
        for table in tables:
            for name, (calls, b) in zip(FAST_PATH_COLLECTIVES, table.tolist()):
                if calls:
                    counts.setdefault(g, Counter())[(name, HOST_VIEW)] += calls
                    nbytes.setdefault(g, Counter())[(name, HOST_VIEW)] += b
    return counts, nbytes


def collective_stats(group: str | None = None) -> dict:
    """{group: {collective: {path: {"calls": n, "bytes": b}}}} for this process (one group's
    inner dict when `group` is given)."""
    with _lock:
        counts, nbytes = _merged()
    out = {}
    for g, per_group in counts.items():
        per = out.setdefault(g, {})
        for (coll, path), n in sorted(per_group.items()):
            per.setdefault(coll, {})[path] = {"calls": n, "bytes": nbytes[g][(coll, path)]}
    return out.get(group, {}) if group is not None else out


def fallback_calls() -> dict:
    """{"c10d::<collective>": calls} staged through host memory because the backend has no
    collectives (STAGED_FALLBACK): what deeplink.fallback_stats() lists beside op fallbacks, and
    what deeplink.reset_op_stats() clears (reset_fallbacks)."""
    with _lock:
        return {f"c10d::{coll}": n for coll, n in sorted(_fallbacks.items())}


def reset_fallbacks() -> None:
    with _lock:
        _fallbacks.clear()


def reset() -> None:
    with _lock:
        _counts.clear()
        _bytes.clear()
        _fallbacks.clear()
        for tables in _fast.values():
            for table in tables:
                table.zero_()

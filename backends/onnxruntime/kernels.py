"""The onnxruntime kernel table: every op of ops/*.py (one module per family, each op a small ONNX
graph built once per op, dtypes, ranks, layouts and attributes, and cached)."""
from __future__ import annotations

#: Kernels written and unit-tested here (ops/copy.py) but not offered to the dispatcher: copy_ and
#: _to_copy also serve host<->device copies, whose CPU-side tensor deeplink's router does not hand
#: to Python kernels, so they stay with the shim (_copy_from).
HOST_COPY_OPS = frozenset({"copy_", "_to_copy"})


def onnxruntime_kernels() -> dict:
    from .ops import TABLE
    return {k: v for k, v in TABLE.items() if k not in HOST_COPY_OPS}


def stats() -> dict:
    """Graph cache hits/misses/build time, sessions per EP, and how strided inputs were bound."""
    from ._vendor.execute import LAYOUT_STATS
    from ._vendor.session_cache import CACHE
    return {"graphs": len(CACHE), **CACHE.stats.as_dict(), **LAYOUT_STATS.as_dict()}


def reset_stats() -> None:
    from ._vendor.execute import LAYOUT_STATS
    from ._vendor.session_cache import CACHE, CacheStats
    CACHE.stats = CacheStats()
    LAYOUT_STATS.reset()

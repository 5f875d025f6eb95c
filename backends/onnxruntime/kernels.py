"""The onnxruntime kernel table: every op of ops/*.py (one module per family, each op a small ONNX
graph built once per op, dtypes, ranks, layouts and attributes, and cached)."""
from __future__ import annotations

#: Kernels written and unit-tested here (ops/copy.py) but not offered to the dispatcher: copy_ and
#: _to_copy also serve host<->device copies, whose CPU-side tensor deeplink's router does not hand
#: to Python kernels, so they stay with the shim (_copy_from).
HOST_COPY_OPS = frozenset({"copy_", "_to_copy"})


def onnxruntime_kernels() -> dict:
    """The table the dispatcher uses: every kernel but random ones replays repeated calls
    (_vendor/replay.py)."""
    from deeplink.kernels import PythonKernel
    from deeplink.opset.names import op_overload

    from ._vendor.replay import replayable, replaying
    from .ops import TABLE
    out = {}
    for name, k in TABLE.items():
        if name in HOST_COPY_OPS:
            continue
        if replayable(op_overload(name)):
            k = PythonKernel(replaying(k.fn), k.dtypes, k.impl)
        out[name] = k
    return out


def stats() -> dict:
    """Graph cache hits/misses/build time, sessions per EP, and how strided inputs were bound."""
    from ._vendor.execute import LAYOUT_STATS
    from ._vendor.replay import STATS as REPLAY
    from ._vendor.session_cache import CACHE
    from .compile import EAGER_OPS, TOTALS
    return {"graphs": len(CACHE), **CACHE.stats.as_dict(), **LAYOUT_STATS.as_dict(), **REPLAY.as_dict(),
            "compiled": {**TOTALS, "eager_ops": dict(EAGER_OPS)}}


def reset_stats() -> None:
    from ._vendor import replay
    from ._vendor.execute import LAYOUT_STATS
    from ._vendor.session_cache import CACHE, CacheStats
    from .compile import EAGER_OPS, TOTALS
    CACHE.stats = CacheStats()
    LAYOUT_STATS.reset()
    replay.STATS = replay.Stats()
    TOTALS.clear()
    EAGER_OPS.clear()

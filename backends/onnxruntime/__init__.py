"""The ONNX Runtime backend: aten ops lowered to small ONNX graphs run by onnxruntime.

    runtime      host_runtime.HostRuntime: aligned host memory (ORT's CPU EP reads it in place)
    kernels      ops/*.py: one module per op family, each op a graph built once per
                 (op, dtypes, ranks, layouts, attributes) and cached (session_cache.py)
    execution    execute.py: IO binding by raw pointer, no per-call copies on the CPU EP
    providers    providers.py: DEEPLINK_ORT_PROVIDERS / set_providers(); the EP that actually ran
                 (ORT falls back to CPU silently) is checked and reported by probe()

Select it with `deeplink.use("onnxruntime")` or DEEPLINK_BACKEND=onnxruntime. docs/onnxruntime.md
has what is covered and the known numeric differences from ATen.
"""
from __future__ import annotations

from deeplink.backend import Availability, Backend

from .providers import requested as requested_providers
from .providers import set_providers

__all__ = ["OnnxRuntimeBackend", "set_providers", "requested_providers", "stats", "reset_stats"]


def _probe_session_provider() -> str:
    """Build a one-node session with the requested EPs and ask it which EP it really got."""
    from .graph import Graph
    from .session_cache import _session_options, session_providers
    import onnxruntime as ort
    import torch
    g = Graph("probe")
    x = g.input(torch.float32, 1)
    g.output(g.op("Identity", x), torch.float32)
    requested = list(requested_providers())
    sess = ort.InferenceSession(g.model_bytes(), _session_options(requested),
                                providers=session_providers(requested))
    return sess.get_providers()[0]


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    version = "1"
    description = "ONNX Runtime: aten ops as cached single-op ONNX graphs, IO-bound on host memory"
    priority = -10          # available wherever onnxruntime imports, but never the default
    verified_on = "this machine (onnxruntime CPU execution provider)"

    def __init__(self):
        self._runtime = None

    def probe(self) -> Availability:
        try:
            import onnxruntime as ort
        except Exception as exc:    # ImportError, or a broken native library
            return Availability.no(f"onnxruntime does not import ({type(exc).__name__}: {exc}); "
                                   f"install it: pip install onnxruntime (or onnxruntime-gpu, "
                                   f"onnxruntime-cann for other execution providers)")
        from . import providers
        available = ort.get_available_providers()
        req = [providers.provider_name(p) for p in requested_providers()]
        try:
            used = _probe_session_provider()
        except Exception as exc:
            return Availability.no(f"onnxruntime {ort.__version__} cannot build a session on "
                                   f"providers {req}: {exc}", requested_providers=req,
                                   available_providers=available)
        details = {
            "onnxruntime": ort.__version__,
            "available_providers": available,
            "requested_providers": req,
            "provider_used": used,
            "memory": "host (the CPU EP aliases it; other EPs copy in and out per run)",
        }
        missing = providers.missing(available)
        if missing:
            details["warning"] = (f"requested provider(s) {missing} are not in this onnxruntime "
                                  f"build; sessions run on {used}")
        return Availability.yes(**details)

    def runtime(self):
        if self._runtime is None:
            from .host_runtime import HostRuntime
            self._runtime = HostRuntime()
        return self._runtime

    def kernels(self):
        from .ops import KERNELS
        # copy_ and _to_copy also serve host<->device copies, whose CPU-side tensor deeplink's
        # router does not hand to Python kernels: they stay with the shim (_copy_from) for now.
        return {k: v for k, v in KERNELS.items() if k not in HOST_COPY_OPS}


#: Kernels written and unit-tested here (ops/copy.py) but not offered to the dispatcher until it
#: passes CPU tensors of host<->device copies through to host-memory backends.
HOST_COPY_OPS = frozenset({"copy_", "_to_copy"})


def stats() -> dict:
    """Graph cache hits/misses/build time, sessions per EP, and how strided inputs were bound."""
    from .execute import LAYOUT_STATS
    from .session_cache import CACHE
    return {"graphs": len(CACHE), **CACHE.stats.as_dict(), **LAYOUT_STATS.as_dict()}


def reset_stats() -> None:
    from .execute import LAYOUT_STATS
    from .session_cache import CACHE, CacheStats
    CACHE.stats = CacheStats()
    LAYOUT_STATS.reset()

"""The ONNX Runtime backend class: probes onnxruntime and the execution provider it really runs
on, and hands out the runtime and the kernel table. The folder's parts are listed in __init__.py;
docs/backends/onnxruntime.md has the rest."""
from __future__ import annotations

from deeplink.backend import Availability, Backend

from ._vendor.providers import requested as requested_providers


def _probe_session_provider() -> str:
    """Build a one-node session with the requested EPs and ask it which EP it really got."""
    from ._vendor.graph import Graph
    from ._vendor.session_cache import _session_options, session_providers
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
        from deeplink.extras import require
        try:
            ort = require("onnxruntime", "onnxruntime", "the onnxruntime backend")
            require("onnx", "onnxruntime", "the onnxruntime backend (it builds ONNX graphs)")
        except Exception as exc:    # ImportError, or a broken native library
            return Availability.no(f"{exc} (onnxruntime-gpu, onnxruntime-cann, ... give other execution providers)")
        from ._vendor import providers
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
            from .runtime import make_runtime
            self._runtime = make_runtime()
        return self._runtime

    def kernels(self):
        from .kernels import onnxruntime_kernels
        return onnxruntime_kernels()

    def compile_graph(self, gm, example_inputs):
        """torch.compile(backend="deeplink"): the whole graph as one ONNX graph (compile.py)."""
        from .compile import compile_graph
        return compile_graph(gm, example_inputs)

    def collectives(self):
        from .collectives import make_collectives
        return make_collectives()

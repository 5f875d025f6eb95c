"""The ONNX Runtime backend: aten ops lowered to small ONNX graphs run by onnxruntime.

    backend.py     OnnxRuntimeBackend: probe (which execution provider really runs), runtime, kernels
    runtime.py     aligned host memory (deeplink.runtime.HostRuntime) that ORT's CPU EP reads in place
    kernels.py     the kernel table (ops/), and graph-cache statistics
    collectives.py torch.distributed collectives: gloo on zero-copy host views
    ops/           one module per op family; registry.py is the table they fill
    _vendor/       the onnxruntime glue: graph.py (ONNX graph builder), session_cache.py (one
                   session per graph), execute.py and binding.py (IO binding by raw pointer),
                   layout.py (strided views), providers.py (which execution providers to ask for)

Select it with `deeplink.use("onnxruntime")` or DEEPLINK_BACKEND=onnxruntime; the provider with
DEEPLINK_ORT_PROVIDERS or `set_providers()`. docs/backends/onnxruntime.md has what is covered and
the known numeric differences from ATen.
"""
from ._vendor.providers import requested as requested_providers
from ._vendor.providers import set_providers
from .backend import OnnxRuntimeBackend
from .kernels import reset_stats, stats

__all__ = ["OnnxRuntimeBackend", "set_providers", "requested_providers", "stats", "reset_stats"]

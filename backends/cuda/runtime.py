"""The CUDA backend's runtime: torch's own CUDA parts (caching allocator, CUDA streams and events)
through generic ATen interfaces (backends/_aten/runtime.py, csrc/shim/runtime_aten.cpp). Chosen
over loading libcudart ourselves because (1) kernel outputs are produced by ATen CUDA kernels into
torch's caching allocator and adopted zero-copy, so one allocator serves both and memory is never
double-pooled, (2) nothing CUDA-specific is compiled into deeplink, so the same shim builds on a
CPU-only torch and runs on a CUDA torch, and (3) streams and events are exactly torch.cuda's."""
from .._aten.runtime import AtenRuntime


def make_runtime() -> AtenRuntime:
    return AtenRuntime("cuda")

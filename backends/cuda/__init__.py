"""The CUDA backend.

Runtime: torch's own CUDA parts (caching allocator, CUDA streams and events), reached through
generic ATen interfaces (deeplink.runtime.AtenRuntime / csrc/shim/runtime_aten.cpp). Chosen over
loading libcudart ourselves because (1) kernel outputs are produced by ATen CUDA kernels into
torch's caching allocator and adopted zero-copy, so one allocator serves both and memory is never
double-pooled, (2) nothing CUDA-specific is compiled into deeplink, so the same shim builds on a
CPU-only torch and runs on a CUDA torch, and (3) streams and events are exactly torch.cuda's.
Kernels: ATen's CUDA kernels, zero-copy on the same memory (Passthrough), plus the convolution
entry points ATen uses for devices it does not know (convolution_overrideable and its backward),
which call cuDNN through ATen's CUDA convolution on zero-copy views (deeplink/aten_convolution.py).
"""
from __future__ import annotations

from collections import ChainMap

from deeplink.backend import Availability, Backend
from deeplink.kernels import AtenKernels
from deeplink.runtime import AtenRuntime


class CudaBackend(Backend):
    name = "cuda"
    version = "1"
    description = "NVIDIA CUDA: torch's CUDA allocator and streams, ATen CUDA kernels zero-copy"
    priority = 100
    aten_device = "cuda"

    @property
    def verified_on(self) -> str:
        """The GPU this process runs on, so a conformance report names the machine it came from."""
        import torch
        if torch.version.cuda is None or not torch.cuda.is_available():
            return "not run on a GPU here (see docs/cuda.md for what was verified where)"
        return f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, torch {torch.__version__}"

    def probe(self) -> Availability:
        import torch
        if torch.version.cuda is None:
            return Availability.no(f"this torch ({torch.__version__}) is built without CUDA; install a CUDA build of "
                                   "torch to use the cuda backend")
        try:
            n = torch.cuda.device_count()
        except Exception as e:  # driver problems surface here
            return Availability.no(f"torch.cuda.device_count() failed: {e}")
        if n == 0:
            return Availability.no(f"torch {torch.__version__} has CUDA {torch.version.cuda} but sees no GPU "
                                   "(check the driver and CUDA_VISIBLE_DEVICES)")
        return Availability.yes(cuda=torch.version.cuda, devices=n, device0=torch.cuda.get_device_name(0))

    def runtime(self):
        return AtenRuntime("cuda")

    def kernels(self):
        from deeplink.aten_convolution import convolution_kernels
        return ChainMap(convolution_kernels("cuda"), AtenKernels("cuda"))

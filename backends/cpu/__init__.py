"""The CPU reference backend: the one every other backend is measured against.

    backend.py     CpuBackend
    runtime.py     host memory through the C runtime table compiled into the shim
                   (csrc/shim/host_runtime.cpp), the path a C vendor runtime takes
    kernels.py     ATen's own CPU kernels, zero-copy on deeplink memory (Passthrough,
                   backends/_aten/), plus what ATen CPU lacks:
    ops/           attention.py: the CUDA-only fused attention kernels of the LLM tier, in CPU math
    collectives.py torch.distributed collectives: gloo on zero-copy host views

Learn this one first: it is the smallest real backend. docs/backends/cpu.md has the rest.
"""
from .backend import CpuBackend

__all__ = ["CpuBackend"]

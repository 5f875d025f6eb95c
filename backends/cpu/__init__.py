"""The CPU reference backend.

Runtime: host memory, through the C function table compiled into the shim
(csrc/shim/host_runtime.cpp) — the same path a C vendor runtime takes.
Kernels: ATen's own CPU kernels, run zero-copy on the deeplink memory (Passthrough), so the backend
covers every op ATen implements on the CPU; plus the CUDA-only LLM attention kernels, written here
in terms of CPU math (backends/cpu/attention.py), so models traced on CUDA run natively too.
"""
from __future__ import annotations

from deeplink.backend import Availability, Backend
from deeplink.kernels import AtenKernels
from deeplink.runtime import CRuntime


class CpuBackend(Backend):
    name = "cpu"
    version = "1"
    description = "CPU reference: host memory, ATen CPU kernels zero-copy"
    priority = 0
    aten_device = "cpu"
    verified_on = "this machine (CPU)"

    def probe(self) -> Availability:
        return Availability.yes(memory="host", kernels="ATen CPU (zero-copy pass-through)")

    def runtime(self):
        from deeplink import _C
        return CRuntime(_C._host_runtime_table(), host_accessible=True)

    def kernels(self):
        from .kernels import cpu_kernels
        return cpu_kernels()

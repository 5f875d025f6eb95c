"""The CPU reference backend class. The folder's parts are listed in __init__.py;
docs/backends/cpu.md has the rest."""
from __future__ import annotations

from deeplink.backend import Availability, Backend


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
        from .runtime import make_runtime
        return make_runtime()

    def kernels(self):
        from .kernels import cpu_kernels
        return cpu_kernels()

    def collectives(self):
        from .collectives import make_collectives
        return make_collectives()

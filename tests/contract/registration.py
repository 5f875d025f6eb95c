"""Backends the contract suite runs on in CI that need registering at run time: the Ascend backend
on the emulator (tests/ascend_emulator/), and `aten-cpu`, the ATen-device runtime and Passthrough
kernels the CUDA backend uses (backends/_aten/), on the CPU device so CI covers that path."""
import deeplink
from deeplink.backend import Backend
from deeplink.backends._aten.kernels import AtenKernels
from deeplink.backends._aten.runtime import AtenRuntime


class AtenCpuBackend(Backend):
    name = "aten-cpu"
    description = "test backend: the CUDA backend's ATen-device runtime, on the CPU device"
    priority = -100
    aten_device = "cpu"

    def runtime(self):
        return AtenRuntime("cpu")

    def kernels(self):
        return AtenKernels("cpu")


def register():
    from ascend_emulator.plugin import register as register_ascend
    register_ascend()
    if AtenCpuBackend.name not in {b["name"] for b in deeplink.list_backends()}:
        deeplink.register_backend(AtenCpuBackend())

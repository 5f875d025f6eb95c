"""Backends the contract suite runs on in CI that need registering at run time: the Ascend backend
on the emulator (tests/ascend_emulator/), and `aten-cpu`, the ATen-device runtime and Passthrough
kernels the CUDA backend uses (backends/_aten/), on the CPU device so CI covers that path; and
cuda itself where a GPU is visible."""
import os

import deeplink
from deeplink.backend import Availability, Backend
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
    if deeplink._registry.get("cuda").available:
        os.environ["DEEPLINK_CONTRACT_BACKENDS"] += ",cuda"

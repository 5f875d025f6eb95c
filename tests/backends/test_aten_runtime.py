"""The ATen-device runtime (what the CUDA backend uses), exercised on the CPU device so CI covers
its allocator, copies and the Passthrough path through it. The CUDA run is tests/backends/test_cuda.py."""
import pytest
import torch

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.backends._aten.kernels import AtenKernels
from deeplink.backends._aten.runtime import AtenRuntime


class AtenCpuBackend(Backend):
    name = "aten-cpu-test"
    priority = -100
    aten_device = "cpu"

    def probe(self):
        return Availability.yes()

    def runtime(self):
        return AtenRuntime("cpu")

    def kernels(self):
        return AtenKernels("cpu")


@pytest.fixture
def aten_cpu():
    try:
        deeplink._registry.get(AtenCpuBackend.name)
    except ValueError:
        deeplink.register_backend(AtenCpuBackend())
    deeplink.use(AtenCpuBackend.name)
    try:
        yield
    finally:
        deeplink.use("cpu")


def test_allocate_copy_compute(aten_cpu):
    c = torch.randn(33, 17)
    d = c.to("deeplink")
    assert deeplink.tensor_backend(d) == AtenCpuBackend.name
    torch.testing.assert_close((d @ d.t()).cpu(), c @ c.t())
    e = torch.empty(33, 17, device="deeplink")  # through the runtime's malloc
    e.copy_(d.t().contiguous().t())              # strided device-to-device copy
    torch.testing.assert_close(e.cpu(), c)
    assert torch.deeplink.device_count() == 1    # the CPU guard reports one device


def test_training_step(aten_cpu):
    from deeplink.models import tiny_model
    m = tiny_model("llama").to("deeplink")
    ids = torch.randint(0, 128, (2, 8)).to("deeplink")
    loss = m(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss).item()

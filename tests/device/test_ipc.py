"""deeplink tensors through torch.multiprocessing: shared host memory for host-memory backends
(writes are seen by both processes), a clear error for backends whose memory is device memory."""
import pickle

import pytest
import torch
import torch.multiprocessing as mp
from multiprocessing.reduction import ForkingPickler

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.runtime import HostRuntime

TIMEOUT = 120


def _consumer(q, results):
    t = q.get(timeout=TIMEOUT)
    results.put((t.device.type, t.cpu().tolist(), list(t.stride()), type(t).__name__))
    with torch.no_grad():
        t.add_(100)  # the producer must see this
    results.put("written")


def _run(tensor):
    ctx = mp.get_context("spawn")
    q, results = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_consumer, args=(q, results))
    p.start()
    try:
        q.put(tensor)
        seen = results.get(timeout=TIMEOUT)
        assert results.get(timeout=TIMEOUT) == "written"
    finally:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    assert p.exitcode == 0
    return seen


def test_strided_view_is_shared_both_ways():
    base = torch.arange(8.0, device="deeplink")
    kind, values, stride, _ = _run(base[1::2])
    assert kind == "deeplink" and values == [1.0, 3.0, 5.0, 7.0] and stride == [2]
    assert base.cpu().tolist() == [0.0, 101.0, 2.0, 103.0, 4.0, 105.0, 6.0, 107.0]
    assert (base * 2)[1].item() == 202.0  # the producer's storage still works as device memory


def test_parameter_keeps_its_class():
    p = torch.nn.Parameter(torch.ones(3, device="deeplink"))
    kind, values, _, cls = _run(p)
    assert (kind, values, cls) == ("deeplink", [1.0, 1.0, 1.0], "Parameter")
    assert p.detach().cpu().tolist() == [101.0, 101.0, 101.0]


class _DeviceMemoryRuntime(HostRuntime):
    host_accessible = False  # stands for a backend whose memory the host cannot address


class _DeviceMemoryBackend(Backend):
    name = "ipc_device_memory"
    priority = -100

    def probe(self):
        return Availability.yes()

    def runtime(self):
        return _DeviceMemoryRuntime()


def test_device_memory_backend_refuses_clearly():
    try:
        deeplink._registry.get(_DeviceMemoryBackend.name)
    except ValueError:
        deeplink.register_backend(_DeviceMemoryBackend())
    deeplink.use(_DeviceMemoryBackend.name)
    try:
        t = torch.empty(4, device="deeplink")
        with pytest.raises(RuntimeError, match="cannot be shared with another process.*tensor.cpu"):
            ForkingPickler.dumps(t, pickle.HIGHEST_PROTOCOL)
    finally:
        deeplink.use("cpu")

"""Devices of torch.deeplink and torch.accelerator: counts, switching, guards, properties, init."""
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import deeplink  # noqa: F401


def test_availability_and_devices():
    assert torch.deeplink.is_available() and torch.deeplink.is_initialized()
    torch.deeplink.init()
    assert torch.deeplink.device_count() == torch.accelerator.device_count() >= 1
    assert torch.deeplink.current_device() == torch.accelerator.current_device_index() == 0
    assert torch.accelerator.current_accelerator().type == "deeplink"


def test_set_device_and_context():
    if torch.deeplink.device_count() < 2:
        pytest.skip("needs two deeplink devices (the cpu backend has two)")
    with torch.deeplink.device(1):
        assert torch.deeplink.current_device() == 1
        assert torch.empty(1, device="deeplink").device.index == 1
    assert torch.deeplink.current_device() == 0
    with torch.accelerator.device_index(1):
        assert torch.randn(2, device="deeplink").device.index == 1
    torch.deeplink.set_device(1)
    try:
        assert torch.accelerator.current_device_index() == 1
        x = torch.ones(2, device="deeplink:0")
        with torch.deeplink.device_of(x):
            assert torch.deeplink.current_device() == 0
    finally:
        torch.deeplink.set_device(0)


def test_context_restores_device_after_an_exception():
    if torch.deeplink.device_count() < 2:
        pytest.skip("needs two deeplink devices")
    with pytest.raises(ValueError):
        with torch.accelerator.device_index(1):
            raise ValueError
    assert torch.deeplink.current_device() == 0


def test_invalid_device_index_is_a_clear_error():
    with pytest.raises(RuntimeError, match="invalid device index"):
        torch.deeplink.set_device(99)


def test_threads_keep_their_own_current_device():
    if torch.deeplink.device_count() < 2:
        pytest.skip("needs two deeplink devices")
    errors = []

    def work(idx):
        torch.accelerator.set_device_index(idx)
        for _ in range(20):
            y = torch.randn(8, 8, device="deeplink") @ torch.randn(8, 8, device="deeplink")
            if y.device.index != idx or torch.accelerator.current_device_index() != idx:
                errors.append((idx, y.device))
    threads = [threading.Thread(target=work, args=(i % 2,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_device_properties_and_capability():
    p = torch.deeplink.get_device_properties(0)
    assert p.backend == deeplink.current_backend() and p.index == 0
    assert p.total_memory > 0 and p.host_memory
    assert torch.deeplink.get_device_name() == p.name
    cap = torch.accelerator.get_device_capability("deeplink:0")
    assert {torch.float32, torch.bfloat16, torch.int64, torch.bool, torch.complex64} <= cap["supported_dtypes"]
    assert torch.deeplink.get_device_capability()["supported_dtypes"] == cap["supported_dtypes"]
    assert torch.deeplink.is_bf16_supported()  # the cpu backend multiplies bfloat16 natively
    assert torch.deeplink.can_device_access_peer(0, torch.deeplink.device_count() - 1)


def test_device_module_is_what_torch_looks_up():
    assert torch.get_device_module("deeplink") is torch.deeplink
    assert torch.utils.backend_registration._get_custom_mod_func("device_count")() == torch.deeplink.device_count()
    assert torch.deeplink.get_allocator_backend() == "native"
    assert not torch.deeplink.is_current_stream_capturing()


def _spawned_worker(q):
    import torch
    import deeplink  # noqa: F401
    x = torch.ones(4, 4, device="deeplink")
    q.put((x @ x).sum().item())


def test_spawned_process_uses_the_device():
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_spawned_worker, args=(q,))
    p.start()
    try:
        assert q.get(timeout=120) == 64.0
    finally:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    assert p.exitcode == 0


def test_backward_after_switching_to_a_backend_with_more_devices():
    # Autograd makes its per-device worker threads once, at the first backward of a process; a
    # registered backend activated later with more devices than the one active then must still
    # find one per index (csrc/shim/guard.cpp).
    code = """
import torch, deeplink
from deeplink.runtime import HostRuntime
from plugins.hostbackend import TableBackend

class ThreeDevices(HostRuntime):  # three host-memory devices
    def device_count(self):
        return 3

    def _check_device(self, device):
        assert 0 <= device < 3

deeplink.register_backend(TableBackend("three-devices", {}, ThreeDevices()))
deeplink.use("cpu")
x = torch.ones(2, device="deeplink", requires_grad=True)
(x * 2).sum().backward()                       # autograd sizes its device threads here
deeplink.use("three-devices")
y = torch.ones(2, device="deeplink:2", requires_grad=True)
(y * 2).sum().backward()
print("grad", y.grad.cpu().tolist(), y.grad.device)
"""
    tests = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grad [2.0, 2.0] deeplink:2" in proc.stdout, proc.stdout + proc.stderr[-2000:]

"""torch.profiler on the deeplink device: device ("DEEPLINK") time per op from the backend runtime's
events through kineto, the legacy use_device path, traces, and no warnings per op."""
import json
import warnings

import pytest
import torch
from torch.autograd.profiler import profile as autograd_profile
from torch.profiler import ProfilerActivity, profile, record_function

import deeplink  # noqa: F401


def _work():
    x = torch.randn(64, 64, device="deeplink")
    for _ in range(3):
        y = (x @ x).relu().sum()
    return y


def test_deeplink_is_a_supported_activity():
    assert ProfilerActivity.PrivateUse1 in torch.profiler.supported_activities()


def test_kineto_profile_has_device_time_per_op():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "PrivateUse1 used in profiler but not enabled"
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]) as prof:
            with record_function("user_block"):
                _work()
    rows = {e.key: e for e in prof.key_averages()}
    mm = rows["aten::mm"]
    assert mm.count == 3 and mm.self_device_time_total > 0
    assert rows["aten::mm (cpu)"].device_time_total > 0  # the device row of the op
    assert "user_block" in rows
    # Device time cannot exceed the wall time the op took on the host (synchronous cpu backend).
    assert mm.self_device_time_total <= mm.cpu_time_total * 1.05 + 50
    table = prof.key_averages().table(sort_by="self_device_time_total", row_limit=5)
    assert "DEEPLINK" in table


def test_chrome_trace_has_device_kernels_linked_to_ops(tmp_path):
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]) as prof:
        _work()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    kernels = [e for e in events if e.get("cat") == "kernel"]
    ops = {e["args"].get("External id") for e in events if e.get("cat") == "cpu_op" and e["name"] == "aten::mm"}
    assert any(k["name"] == "aten::mm (cpu)" and k["args"].get("External id") in ops for k in kernels)
    assert all(k["dur"] >= 0 for k in kernels)


def test_profiler_off_records_nothing():
    with profile(activities=[ProfilerActivity.CPU]) as prof:  # CPU only: the device session is not started
        _work()
    assert not any(e.key.endswith("(cpu)") for e in prof.key_averages())


@pytest.mark.parametrize("record_shapes", [False, True])
def test_legacy_profiler_with_use_device(record_shapes):
    model = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10)).to("deeplink")
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(32, 10, device="deeplink")
    with autograd_profile(use_device="deeplink", record_shapes=record_shapes) as prof:
        with record_function("step"):
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
    names = [e.name for e in prof.function_events]
    assert "step" in names and any("addmm" in n for n in names) and any("backward" in n.lower() for n in names)
    addmm = next(e for e in prof.key_averages() if e.key == "aten::addmm")
    assert addmm.device_time_total > 0
    assert isinstance(prof.key_averages().table(sort_by="cpu_time_total", row_limit=5), str)


def test_profiler_with_streams_and_exceptions():
    s = torch.Stream(device="deeplink")
    with pytest.raises(RuntimeError, match="boom"):
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]) as prof:
            with s:
                torch.ones(4, device="deeplink") * 2
            raise RuntimeError("boom")
    assert isinstance(prof.events(), list)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]) as prof:  # usable again
        _work()
    assert any(e.key == "aten::mm (cpu)" for e in prof.key_averages())

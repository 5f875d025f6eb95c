import torch

import deeplink


def test_stream_create_and_switch():
    s = torch.deeplink.Stream()
    assert s.device.type == "deeplink"
    assert s.stream_id != torch.deeplink.default_stream().stream_id
    with torch.deeplink.stream(s):
        assert torch.deeplink.current_stream() == s
        y = torch.ones(3, device="deeplink") * 2
    assert torch.deeplink.current_stream() == torch.deeplink.default_stream()
    s.synchronize()
    assert s.query()
    assert torch.equal(y.cpu(), torch.full((3,), 2.0))


def test_events_time_work():
    start = torch.deeplink.Event(enable_timing=True)
    end = torch.deeplink.Event(enable_timing=True)
    a = torch.randn(256, 256, device="deeplink")
    start.record()
    for _ in range(5):
        a = a @ a / 256
    end.record()
    end.synchronize()
    assert end.query()
    ms = start.elapsed_time(end)
    assert ms > 0.0  # the CPU reference runtime times events on the host clock
    torch.deeplink.synchronize()


def test_event_wait_orders_streams():
    s = torch.deeplink.Stream()
    e = torch.deeplink.Event()
    e.record()
    s.wait_event(e)
    s.synchronize()


def test_stream_handles_are_the_runtimes():
    assert deeplink.stream_handle(torch.deeplink.default_stream()) == 0
    s = torch.deeplink.Stream()
    assert deeplink.stream_handle(s) != 0
    with torch.deeplink.stream(s):
        assert deeplink.stream_handle() == deeplink.stream_handle(s)


def test_torch_stream_on_the_current_device_and_entered():
    s = torch.Stream(device="deeplink")
    assert s.device_index == torch.deeplink.current_device() and s.device.type == "deeplink"
    with s:
        assert torch.accelerator.current_stream() == s
        torch.ones(2, device="deeplink").mul_(2)
    assert torch.accelerator.current_stream() == torch.deeplink.default_stream()
    again = torch.Stream(stream_id=s.stream_id, device_type=s.device_type, device_index=s.device_index)
    assert again == s
    assert "device_type=deeplink" in repr(s)


def test_streams_on_another_device():
    if torch.deeplink.device_count() < 2:
        return
    s = torch.Stream(device="deeplink:1")
    assert s.device_index == 1
    with torch.deeplink.StreamContext(s):
        assert torch.deeplink.current_device() == 1 and torch.deeplink.current_stream() == s
    assert torch.deeplink.current_device() == 0
    s.wait_stream(torch.Stream(device="deeplink:0"))
    torch.deeplink.set_stream(s)  # as torch.cuda.set_stream: the stream's device becomes current
    try:
        assert torch.deeplink.current_device() == 1 and torch.deeplink.current_stream() == s
    finally:
        torch.deeplink.set_stream(torch.deeplink.default_stream(1))
        torch.deeplink.set_device(0)


def test_stream_none_context_is_a_no_op():
    before = torch.deeplink.current_stream()
    with torch.deeplink.stream(None):
        assert torch.deeplink.current_stream() == before

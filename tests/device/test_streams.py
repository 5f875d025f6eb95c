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

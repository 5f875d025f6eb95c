"""torch.Event / torch.deeplink.Event on the deeplink device."""
import pytest
import torch

import deeplink  # noqa: F401


def test_event_create_record_query():
    e = torch.Event(device="deeplink")
    assert e.device.type == "deeplink" and e.event_id == 0 and e.query()
    s = torch.Stream(device="deeplink")
    e1, e2 = s.record_event(), s.record_event()
    assert e1.event_id != 0 and e1.event_id != e2.event_id
    e2.synchronize()
    assert e1.query() and e2.query()
    assert isinstance(torch.deeplink.Event(), torch.deeplink.Event)
    assert not isinstance(torch.Event(device="cpu") if hasattr(torch, "Event") else 1, torch.deeplink.Event)


def test_elapsed_time_needs_timing():
    s = torch.Stream(device="deeplink")
    a, b = torch.Event(device="deeplink", enable_timing=True), torch.Event(device="deeplink", enable_timing=True)
    x = torch.randn(128, 128, device="deeplink")
    a.record(s)
    with s:
        for _ in range(3):
            x = x @ x / 128
    b.record(s)
    s.synchronize()
    assert a.elapsed_time(b) > 0
    c, d = torch.Event(device="deeplink"), torch.Event(device="deeplink")
    c.record(s)
    d.record(s)
    with pytest.raises(ValueError, match="enable_timing"):
        c.elapsed_time(d)


def test_streams_wait_on_one_event():
    s1, s2, s3 = (torch.Stream(device="deeplink") for _ in range(3))
    x = torch.randn(30, 30, device="deeplink")
    e = s1.record_event()
    s2.wait_event(e)
    s3.wait_event(e)
    with s2:
        a = x @ x
    with s3:
        b = x @ x
    torch.accelerator.synchronize()
    assert e.query() and torch.equal(a.cpu(), b.cpu())


def test_event_reuse_and_devices():
    s = torch.Stream(device="deeplink")
    e = torch.Event(device="deeplink")
    for _ in range(2):
        e.record(s)
        s.synchronize()
        assert e.query()
    if torch.deeplink.device_count() > 1:
        s1 = torch.Stream(device="deeplink:1")
        e1 = torch.Event(device="deeplink:1")
        e1.record(s1)
        assert e1.device.index == 1

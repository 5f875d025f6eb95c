"""Streams and events of the deeplink device (torch.cuda.streams' surface). They are torch.Stream
and torch.Event on the deeplink device; the backend's runtime creates, orders and times them
(csrc/shim/guard.cpp)."""
from __future__ import annotations

import torch

from . import _C
from .device_index import index_of

_PRIVATEUSE1 = 20  # c10::DeviceType::PrivateUse1


class Stream(torch.Stream):
    """A new stream of the backend's runtime on a deeplink device (default: the current one)."""

    def __new__(cls, device=None, priority=0, **kwargs):
        if kwargs:  # torch re-creates streams from (stream_id, device_index, device_type)
            return super().__new__(cls, **kwargs)
        return super().__new__(cls, device=torch.device("deeplink", index_of(device)), priority=priority)


class _EventType(type):
    # torch.Event.elapsed_time accepts only torch.Event itself (not subclasses), so deeplink events
    # are torch.Event objects; isinstance(e, torch.deeplink.Event) still answers for them.
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, torch.Event) and obj.device.type == "deeplink"


class Event(metaclass=_EventType):
    """An event on the current deeplink device (a torch.Event); elapsed_time() works where the
    backend's runtime can time events."""

    def __new__(cls, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        return torch.Event(device=torch.device("deeplink", _C._current_device()), enable_timing=enable_timing,
                           blocking=blocking, interprocess=interprocess)


def current_stream(device=None) -> torch.Stream:
    return torch.accelerator.current_stream(index_of(device))


def default_stream(device=None) -> torch.Stream:
    return torch.Stream(stream_id=0, device_index=index_of(device), device_type=_PRIVATEUSE1)


def set_stream(stream: torch.Stream | None) -> None:
    """Make `stream` current on its device (None: no-op, as in torch.cuda)."""
    if stream is not None:
        torch.accelerator.set_stream(stream)


class StreamContext:
    """Makes `stream` current on its device (and that device current) inside a `with` block;
    None makes the block a no-op. Restores both on exit."""

    def __init__(self, stream: torch.Stream | None):
        self.stream = stream
        self._prev_device = -1
        self._prev_streams: list = []

    def __enter__(self):
        if self.stream is None:
            return self
        self._prev_device = _C._current_device()
        target = self.stream.device_index
        # The previous stream of the target device and of the current one are restored on exit.
        self._prev_streams = [current_stream(self._prev_device)]
        if target != self._prev_device:
            self._prev_streams.append(current_stream(target))
            _C._set_device(target)
        torch.accelerator.set_stream(self.stream)
        return self

    def __exit__(self, *exc):
        if self.stream is None:
            return False
        for s in reversed(self._prev_streams):
            torch.accelerator.set_stream(s)
        _C._set_device(self._prev_device)
        return False


def stream(stream: torch.Stream | None) -> StreamContext:
    """`with torch.deeplink.stream(s):` runs the block's ops on stream `s`."""
    return StreamContext(stream)

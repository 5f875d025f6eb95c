"""The deeplink device as torch._dynamo / Inductor see a device (torch._dynamo.device_interface):
current device, streams, events, properties, synchronisation, all from torch.deeplink."""
from __future__ import annotations

import torch
from torch._dynamo.device_interface import DeviceInterface

import deeplink


class DeeplinkInterface(DeviceInterface):
    class device:
        def __new__(cls, device):
            return torch.deeplink.device(device)

    class Event(torch.Event):
        def __new__(cls, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
            return torch.deeplink.Event(enable_timing, blocking, interprocess)

    class Stream(torch.Stream):
        def __new__(cls, device=None, priority: int = 0, **kwargs):
            return torch.deeplink.Stream(device, priority, **kwargs)

    class Worker:
        @staticmethod
        def set_device(device: int) -> None:
            torch.deeplink.set_device(device)

        @staticmethod
        def current_device() -> int:
            return torch.deeplink.current_device()

        @staticmethod
        def get_device_properties(device=None):
            return torch.deeplink.get_device_properties(device)

    @staticmethod
    def current_device() -> int:
        return torch.deeplink.current_device()

    @staticmethod
    def set_device(device) -> None:
        torch.deeplink.set_device(device)

    @staticmethod
    def exchange_device(device: int) -> int:
        previous = torch.deeplink.current_device()
        if device != previous:
            torch.deeplink.set_device(device)
        return previous

    @staticmethod
    def maybe_exchange_device(device: int) -> int:
        if device < 0 or device >= torch.deeplink.device_count():
            return torch.deeplink.current_device()
        return DeeplinkInterface.exchange_device(device)

    @staticmethod
    def device_count() -> int:
        return torch.deeplink.device_count()

    @staticmethod
    def is_available() -> bool:
        return torch.deeplink.is_available()

    @staticmethod
    def stream(stream: torch.Stream):
        return torch.deeplink.stream(stream)

    @staticmethod
    def current_stream() -> torch.Stream:
        return torch.deeplink.current_stream()

    @staticmethod
    def set_stream(stream: torch.Stream) -> None:
        torch.deeplink.set_stream(stream)

    @staticmethod
    def _set_stream_by_id(stream_id: int, device_index: int, device_type: int) -> None:
        torch.deeplink.set_stream(torch.Stream(stream_id=stream_id, device_index=device_index,
                                               device_type=device_type))

    @staticmethod
    def get_raw_stream(device_idx: int) -> int:
        """The backend runtime's handle of the current stream (0 for the default stream)."""
        return deeplink.stream_handle(torch.deeplink.current_stream(device_idx))

    @staticmethod
    def synchronize(device=None) -> None:
        torch.deeplink.synchronize(device)

    @staticmethod
    def get_compute_capability(device=None):
        cap = torch.deeplink.get_device_capability(device).get("compute_capability")
        return cap[0] * 10 + cap[1] if cap else ""

    @staticmethod
    def is_bf16_supported(including_emulation: bool = False) -> bool:
        return torch.deeplink.is_bf16_supported(including_emulation)

    @staticmethod
    def memory_allocated(device=None) -> int:
        return torch.deeplink.memory_allocated(device)

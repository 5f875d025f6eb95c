"""`torch.deeplink`: the device module, shaped like `torch.cuda`."""
from __future__ import annotations

import contextlib

import torch

from . import _C, registry

__all__ = [
    "is_available", "is_initialized", "device_count", "current_device", "set_device", "device", "synchronize",
    "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state", "set_rng_state",
    "get_rng_state_all", "set_rng_state_all", "default_generators",
    "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
    "reset_peak_memory_stats", "empty_cache", "Stream", "Event", "current_stream", "default_stream", "stream",
    "get_amp_supported_dtype", "get_device_name",
]


def is_available() -> bool:
    return _C._active_backend() >= 0 and _C._device_count() > 0


def is_initialized() -> bool:
    return _C._active_backend() >= 0


def _lazy_init() -> None:  # torch calls this on device modules before RNG and memory work
    pass


def device_count() -> int:
    return _C._device_count()


def current_device() -> int:
    return _C._current_device()


def _index(dev) -> int:
    if dev is None:
        return current_device()
    if isinstance(dev, int):
        return dev
    dev = torch.device(dev)
    if dev.type != "deeplink":
        raise ValueError(f"expected a deeplink device, got {dev}")
    return current_device() if dev.index is None else dev.index


def set_device(dev) -> None:
    _C._set_device(_index(dev))


def get_device_name(dev=None) -> str:
    return f"deeplink:{_index(dev)} ({registry.active().name} backend)"


class device:
    """Context manager that makes `dev` the current deeplink device."""

    def __init__(self, dev):
        self.idx = _index(dev)
        self.prev = -1

    def __enter__(self):
        self.prev = current_device()
        if self.idx != self.prev:
            set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.prev != self.idx:
            set_device(self.prev)
        return False


def synchronize(dev=None) -> None:
    _C._synchronize(_index(dev))


# ---------------------------------------------------------------- random
def _gen(dev=None) -> torch.Generator:
    return _C._default_generator(_index(dev))


def default_generators():
    return tuple(_gen(i) for i in range(device_count()))


def manual_seed(seed: int) -> None:
    _gen().manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    for g in default_generators():
        g.manual_seed(int(seed))


def seed() -> None:
    _gen().seed()


def seed_all() -> None:
    s = _gen(0).seed()
    for g in default_generators()[1:]:
        g.manual_seed(s)


def initial_seed() -> int:
    return _gen().initial_seed()


def get_rng_state(dev="deeplink") -> torch.Tensor:
    return _gen(dev).get_state()


def set_rng_state(new_state: torch.Tensor, dev="deeplink") -> None:
    _gen(dev).set_state(new_state)


def get_rng_state_all():
    return [g.get_state() for g in default_generators()]


def set_rng_state_all(states) -> None:
    for g, s in zip(default_generators(), states):
        g.set_state(s)


# ---------------------------------------------------------------- memory
def memory_stats(dev=None) -> dict:
    return dict(_C._memory_stats(_index(dev)))


def memory_allocated(dev=None) -> int:
    return memory_stats(dev)["allocated_bytes.all.current"]


def max_memory_allocated(dev=None) -> int:
    return memory_stats(dev)["allocated_bytes.all.peak"]


def memory_reserved(dev=None) -> int:
    return memory_stats(dev)["reserved_bytes.all.current"]


def max_memory_reserved(dev=None) -> int:
    return memory_stats(dev)["reserved_bytes.all.peak"]


def reset_peak_memory_stats(dev=None) -> None:
    _C._reset_peak_memory_stats(_index(dev))


def empty_cache() -> None:
    """Give cached device memory back: deeplink's own pool, and, where the active backend's memory
    comes from torch's CUDA caching allocator (the cuda backend), that allocator's cache too."""
    _C._empty_cache()
    if registry._active is not None and registry._active.backend.aten_device == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- streams and events
_PRIVATEUSE1 = 20  # c10::DeviceType::PrivateUse1
class Stream(torch.Stream):
    """A deeplink stream (torch.Stream on the deeplink device)."""

    def __new__(cls, device=None, priority=0, **kwargs):
        if kwargs:  # torch internals re-create streams from (stream_id, device_index, device_type)
            return super().__new__(cls, **kwargs)
        with globals()["device"](_index(device)):
            return super().__new__(cls, device=torch.device("deeplink", _index(device)), priority=priority)


def Event(enable_timing: bool = False, blocking: bool = False, interprocess: bool = False) -> torch.Event:
    """A torch.Event on the current deeplink device; elapsed_time() works where the backend's
    runtime can time events. (A factory, not a subclass: torch.Event.elapsed_time only accepts
    torch.Event itself.)"""
    return torch.Event(device=torch.device("deeplink", current_device()), enable_timing=enable_timing,
                       blocking=blocking, interprocess=interprocess)


def current_stream(dev=None) -> torch.Stream:
    return torch._C._accelerator_getStream(_index(dev)) if hasattr(torch._C, "_accelerator_getStream") else \
        torch.accelerator.current_stream(_index(dev))


def default_stream(dev=None) -> torch.Stream:
    return torch.Stream(stream_id=0, device_index=_index(dev), device_type=_PRIVATEUSE1)


@contextlib.contextmanager
def stream(s: torch.Stream | None):
    if s is None:
        yield
        return
    prev = torch.accelerator.current_stream(s.device_index)
    torch.accelerator.set_stream(s)
    try:
        yield
    finally:
        torch.accelerator.set_stream(prev)


def get_amp_supported_dtype():
    return [torch.float16, torch.bfloat16]


def _is_in_bad_fork() -> bool:  # torch.manual_seed asks every device module this before seeding it
    return False

"""`torch.deeplink`: the device module, shaped like `torch.cuda` wherever a name has a meaning for a
device that is not a GPU. Memory, random state and streams live in device_memory.py,
device_random.py and device_streams.py; this file holds devices, initialisation and properties.

Left out on purpose (CUDA-only machinery with no deeplink counterpart): CUDA graphs, memory pools,
NVTX/NVML (nvtx, utilization, temperature, power_draw, clock_rate), cuBLAS/cuSOLVER handles,
jiterator, arch lists and gencode flags, the sync-debug mode and the legacy typed tensor classes.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import torch

from . import _C, registry
from .device_index import index_of
from .device_memory import (OutOfMemoryError, caching_allocator_alloc, caching_allocator_delete,  # noqa: F401
                            device_memory_used, empty_cache, empty_host_cache, host_memory_stats,
                            host_memory_stats_as_nested_dict, max_memory_allocated,
                            max_memory_cached, max_memory_reserved, mem_get_info, memory_allocated, memory_cached,
                            memory_reserved, memory_stats, memory_stats_as_nested_dict, memory_summary,
                            reset_accumulated_memory_stats, reset_max_memory_allocated, reset_max_memory_cached,
                            reset_peak_memory_stats)
from .device_random import (get_rng_state, get_rng_state_all, initial_seed, manual_seed,  # noqa: F401
                            manual_seed_all, seed, seed_all, set_rng_state, set_rng_state_all)
from .device_streams import (Event, Stream, StreamContext, current_stream, default_stream,  # noqa: F401
                             set_stream, stream)

__all__ = [
    "is_available", "is_initialized", "init", "device_count", "current_device", "set_device", "device", "device_of",
    "synchronize", "get_device_name", "get_device_capability", "get_device_properties", "DeviceProperties",
    "is_bf16_supported", "is_tf32_supported", "can_device_access_peer", "is_current_stream_capturing",
    "get_allocator_backend", "get_amp_supported_dtype", "amp", "OutOfMemoryError", "AcceleratorError", "has_half",
    # random
    "default_generators", "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state",
    "set_rng_state", "get_rng_state_all", "set_rng_state_all",
    # memory
    "memory_stats", "memory_stats_as_nested_dict", "memory_allocated", "max_memory_allocated", "memory_reserved",
    "max_memory_reserved", "memory_cached", "max_memory_cached", "reset_peak_memory_stats",
    "reset_max_memory_allocated", "reset_max_memory_cached", "reset_accumulated_memory_stats", "empty_cache",
    "mem_get_info", "memory_summary", "caching_allocator_alloc", "caching_allocator_delete", "host_memory_stats",
    "host_memory_stats_as_nested_dict", "empty_host_cache", "device_memory_used",
    # streams and events
    "Stream", "Event", "StreamContext", "stream", "set_stream", "current_stream", "default_stream",
]


#: torch.AcceleratorError, as torch.cuda re-exports it, for code that catches it; deeplink's own
#: runtime errors are RuntimeError (and OutOfMemoryError).
AcceleratorError = torch.AcceleratorError
#: Every backend runs float16 (natively or through the CPU fallback), as torch.cuda.has_half says of CUDA.
has_half = True


def is_available() -> bool:
    return _C._active_backend() >= 0 and _C._device_count() > 0


def is_initialized() -> bool:
    return _C._active_backend() >= 0


def init() -> None:
    """Make sure a backend is active (importing deeplink activates the default one). Raises, as
    torch.cuda.init does, in a forked child of a process whose backend cannot survive fork."""
    if _is_in_bad_fork():
        raise RuntimeError(f"Cannot re-initialize deeplink (backend '{registry.active().name}') in forked subprocess. "
                           "To use deeplink with multiprocessing, you must use the 'spawn' start method")
    if not is_initialized():
        registry.activate(registry.default_name())


def _lazy_init() -> None:  # torch calls this on device modules before RNG and memory work
    init()


def _is_in_bad_fork() -> bool:
    # Host memory survives fork (the child gets a copy); CUDA does not. torch.manual_seed asks this
    # before seeding the device in DataLoader workers.
    rec = registry._active
    return rec is not None and rec.backend.aten_device == "cuda" and torch.cuda._is_in_bad_fork()


def device_count() -> int:
    return _C._device_count()


def current_device() -> int:
    return _C._current_device()


def set_device(device) -> None:
    _C._set_device(index_of(device))


class device:
    """Context manager that makes `device` the current deeplink device."""

    def __init__(self, device):
        self.idx = index_of(device)
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


class device_of(device):
    """Context manager that makes the device of tensor `obj` current (no-op for a CPU tensor)."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.device.type == "deeplink" else current_device())


def synchronize(device=None) -> None:
    _C._synchronize(index_of(device))


# ---------------------------------------------------------------- properties
@dataclass(frozen=True)
class DeviceProperties:
    """What torch.deeplink.get_device_properties() reports about one device."""
    name: str
    index: int
    backend: str
    total_memory: int
    host_memory: bool              # device memory is host memory the CPU can address
    multi_processor_count: int     # parallel compute units: host cores for host memory, SMs for CUDA
    verified_on: str
    extra: dict = field(default_factory=dict)  # the cuda backend: the GPU's own properties

    def __repr__(self) -> str:
        return (f"DeviceProperties(name={self.name!r}, backend={self.backend!r}, "
                f"total_memory={self.total_memory // 2**20}MB, host_memory={self.host_memory})")


def get_device_name(device=None) -> str:
    return get_device_properties(device).name


def get_device_properties(device=None) -> DeviceProperties:
    idx = index_of(device)
    rec = registry.active()
    host = bool(_C._backend_host_accessible(rec.slot))
    extra = {}
    name = f"deeplink:{idx} ({rec.name} backend)"
    units = os.cpu_count() or 1 if host else 1
    if rec.backend.aten_device == "cuda":
        p = torch.cuda.get_device_properties(idx)
        extra = {"major": p.major, "minor": p.minor}
        units = p.multi_processor_count
        name = f"deeplink:{idx} ({rec.name} backend, {p.name})"
    try:
        total = mem_get_info(idx)[1]
    except NotImplementedError:
        total = 0
    return DeviceProperties(name=name, index=idx, backend=rec.name, total_memory=total, host_memory=host,
                            multi_processor_count=units, verified_on=str(getattr(rec.backend, "verified_on", "")), extra=extra)


def get_device_capability(device=None) -> dict:
    """As torch.accelerator.get_device_capability: {"supported_dtypes": {...}}; on the cuda
    backend also "compute_capability": (major, minor) of the GPU."""
    idx = index_of(device)
    cap = torch.accelerator.get_device_capability(torch.device("deeplink", idx))
    if registry.active().backend.aten_device == "cuda":
        cap["compute_capability"] = torch.cuda.get_device_capability(idx)
    return cap


def _native_for(op: str, dtype: torch.dtype) -> bool:
    from .kernels import Passthrough, PythonKernel
    kernel = registry.active().kernels().get(op) if hasattr(registry.active().kernels(), "get") else None
    if isinstance(kernel, Passthrough):
        return True
    return isinstance(kernel, PythonKernel) and kernel.accepts([dtype])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the active backend multiplies bfloat16 matrices natively (no CPU fallback)."""
    if registry.active().backend.aten_device == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation)
    return _native_for("mm", torch.bfloat16)


def is_tf32_supported() -> bool:
    return registry.active().backend.aten_device == "cuda" and torch.cuda.is_tf32_supported()


def can_device_access_peer(device: int, peer_device: int) -> bool:
    """Host-memory backends: every device is the same RAM. The cuda backend: CUDA's answer."""
    if registry.active().backend.aten_device == "cuda":
        return torch.cuda.can_device_access_peer(index_of(device), index_of(peer_device))
    return bool(_C._backend_host_accessible(registry.active().slot))


def is_current_stream_capturing() -> bool:
    return False  # deeplink has no graph capture


def get_allocator_backend() -> str:
    return "native"  # deeplink's own caching allocator (csrc/shim/allocator.cpp)


def get_amp_supported_dtype():
    return [torch.float16, torch.bfloat16]


class amp:
    """torch.deeplink.amp.autocast / GradScaler: torch.amp's, bound to the deeplink device."""
    autocast = functools.partial(torch.autocast, "deeplink")
    GradScaler = functools.partial(torch.amp.GradScaler, "deeplink")


def __getattr__(name: str):
    # A tuple like torch.cuda.default_generators, read fresh: the device count follows the backend.
    if name == "default_generators":
        return tuple(_C._default_generator(i) for i in range(_C._device_count()))
    raise AttributeError(f"module 'torch.deeplink' has no attribute {name!r}")

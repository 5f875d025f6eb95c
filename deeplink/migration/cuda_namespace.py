"""torch.cuda in CUDA compatibility mode: every public callable of torch.cuda (and of its submodules
memory, random, streams, graphs, nvtx, amp, ...) becomes one of

* mapped:   torch.deeplink's function of the same name, with CUDA device arguments read as deeplink
            ones (device count, memory statistics, streams, events, RNG, synchronize, ...);
* adapted:  a CUDA-shaped answer built from deeplink's (get_device_capability returns a (major,
            minor) tuple, get_device_properties an object with .major/.minor, the legacy
            torch.cuda.FloatTensor types, nvtx ranges as profiler ranges);
* accepted: harmless calls with nothing to do on deeplink (ipc_collect, the sync-debug mode);
* refused:  CUDAGraph & co, NVML queries, cuBLAS handles, custom allocators: CudaCompatError
            naming the call and the backend (refusals.py).

Names torch adds in later versions that this table does not know are refused, never silently
passed to a CUDA that is not there. Exception classes and constants stay as they are. Calls from
deeplink's own code (its cuda backend) reach the real functions (devices.called_from_inside).
"""
from __future__ import annotations

import contextlib
import functools
import types
import warnings

import torch

from .devices import TARGET, called_from_inside, map_devices_in
from .patches import Patches
from .refusals import GRAPHS, NVIDIA_INSTEAD, NVIDIA_ONLY, refusing

#: torch.cuda submodules whose public callables are patched like torch.cuda's own.
SUBMODULES = ("memory", "random", "streams", "graphs", "nvtx", "jiterator", "profiler", "nccl", "sparse", "tunable",
              "gds", "green_contexts")

#: torch.cuda names with no deeplink meaning, refused: (reason, what to do instead).
REFUSED = {
    **{n: GRAPHS for n in ("CUDAGraph", "graph", "make_graphed_callables", "graph_pool_handle")},
    **{n: (NVIDIA_ONLY, NVIDIA_INSTEAD) for n in (
        "utilization", "temperature", "power_draw", "clock_rate", "memory_usage", "device_memory_used",
        "list_gpu_processes", "memory_snapshot", "current_blas_handle", "current_solver_handle", "cudart",
        "check_error", "get_stream_from_external", "ExternalStream", "CUDAPluggableAllocator",
        "change_current_allocator", "MemPool", "use_mem_pool", "caching_allocator_enable",
        "caching_allocator_disabled", "GreenContext", "host_memory_stats_as_nested_dict",
        "reset_peak_host_memory_stats", "reset_accumulated_host_memory_stats", "get_per_process_memory_fraction")},
}

#: Accepted with no effect (warned once): there is nothing on deeplink for them to change.
ACCEPTED = {
    "ipc_collect": "deeplink shares host-memory tensors between processes without CUDA IPC handles to collect",
    "set_per_process_memory_fraction": "deeplink's caching allocator has no per-process limit",
    "set_sync_debug_mode": "deeplink has no CUDA synchronisation debugger",
}

_LEGACY_DTYPES = {"FloatTensor": torch.float32, "DoubleTensor": torch.float64, "HalfTensor": torch.float16,
                  "BFloat16Tensor": torch.bfloat16, "ByteTensor": torch.uint8, "CharTensor": torch.int8,
                  "ShortTensor": torch.int16, "IntTensor": torch.int32, "LongTensor": torch.int64,
                  "BoolTensor": torch.bool}


def mapped(original, replacement):
    """`replacement` with CUDA device arguments mapped; deeplink's own calls reach `original`."""
    @functools.wraps(replacement)
    def call(*args, **kwargs):
        if original is not None and called_from_inside(2):
            return original(*args, **kwargs)
        args, kwargs = map_devices_in(args, kwargs)
        return replacement(*args, **kwargs)
    call.__deeplink_original__ = original
    return call


def _on_cuda_backend() -> bool:
    from deeplink import registry
    return registry.active().backend.aten_device == "cuda"


# ---------------------------------------------------------------- adapted answers
def get_device_capability(device=None) -> tuple[int, int]:
    """(major, minor) as CUDA reports it. The cuda backend: the GPU's. Others: (8, 0) where the
    backend multiplies bfloat16 natively (what scripts test capability for: bf16 and fused
    attention paths), else (7, 0)."""
    if _on_cuda_backend():
        return _REAL["get_device_capability"](torch.deeplink.current_device() if device is None else device)
    return (8, 0) if torch.deeplink.is_bf16_supported() else (7, 0)


class CudaStyleProperties:
    """get_device_properties() in the shape CUDA code reads: name, total_memory, major, minor,
    multi_processor_count (from deeplink's DeviceProperties, and the capability above)."""

    def __init__(self, device=None):
        p = torch.deeplink.get_device_properties(device)
        self.name, self.total_memory, self.multi_processor_count = p.name, p.total_memory, p.multi_processor_count
        self.major, self.minor = get_device_capability(device)
        self.is_integrated = int(p.host_memory)
        self.is_multi_gpu_board = 0
        self.backend = p.backend

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name={self.name!r}, major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    if _on_cuda_backend():
        return _REAL["get_device_properties"](torch.deeplink.current_device() if device is None else device)
    return CudaStyleProperties(device)


class Stream(torch.deeplink.Stream):
    """torch.cuda.Stream: a deeplink stream (device may be given as a CUDA device)."""

    def __new__(cls, device=None, priority=0, **kwargs):
        (device,), _ = map_devices_in((device,), {})
        return super().__new__(cls, device, priority, **kwargs)


class _LegacyTensorType(type):
    """torch.cuda.FloatTensor & co: constructors of deeplink tensors of one dtype; isinstance
    answers for deeplink tensors of that dtype."""

    def __call__(cls, *args, **kwargs):
        device = torch.device(TARGET, torch.deeplink.current_device())
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, torch.Tensor):
                return data.to(device=device, dtype=cls.dtype)
            return torch._C._VariableFunctions.tensor(data, dtype=cls.dtype, device=device)
        return torch._C._VariableFunctions.empty(args, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, torch.Tensor) and obj.dtype == cls.dtype and obj.device.type == TARGET


def _legacy_type(name: str, dtype: torch.dtype):
    return _LegacyTensorType(name, (), {"dtype": dtype, "__module__": "torch.cuda",
                                        "__doc__": f"torch.cuda.{name}: deeplink tensors of {dtype}"})


def legacy_type_target(spec):
    """(dtype, device) for Tensor.type(spec) when spec is a torch.cuda legacy type or its name."""
    if isinstance(spec, _LegacyTensorType):
        return spec.dtype, TARGET
    if isinstance(spec, str) and spec.startswith("torch.cuda.") and spec[len("torch.cuda."):] in _LEGACY_DTYPES:
        return _LEGACY_DTYPES[spec[len("torch.cuda."):]], TARGET
    return None


class _nvtx:
    """torch.cuda.nvtx on deeplink: ranges become torch.profiler ranges (record_function), so they
    still mark the profile; marks are recorded as zero-length ranges."""
    _open: list = []

    @staticmethod
    def range_push(msg: str) -> int:
        r = torch.autograd.profiler.record_function(msg)
        r.__enter__()
        _nvtx._open.append(r)
        return len(_nvtx._open) - 1

    @staticmethod
    def range_pop() -> int:
        if not _nvtx._open:
            return -1
        _nvtx._open.pop().__exit__(None, None, None)
        return len(_nvtx._open)

    @staticmethod
    def mark(msg: str) -> None:
        with torch.autograd.profiler.record_function(msg):
            pass

    @staticmethod
    @contextlib.contextmanager
    def range(msg: str, *args, **kwargs):
        with torch.autograd.profiler.record_function(msg.format(*args, **kwargs)):
            yield


def _accepted(name: str, why: str):
    warned = []

    def accept(*args, **kwargs):
        if not warned:
            warned.append(True)
            warnings.warn(f"torch.cuda.{name}: accepted with no effect in CUDA compatibility mode ({why})",
                          stacklevel=2)
    accept.__name__ = name
    return accept


class device(torch.deeplink.device):
    """torch.cuda.device(d): makes deeplink device d current in a `with` block."""

    def __init__(self, device):
        (device,), _ = map_devices_in((device,), {})
        super().__init__(device)


_REAL: dict = {}  # torch.cuda's own functions, which the adapters call on the cuda backend


def _special() -> dict:
    return {
        "is_available": torch.deeplink.is_available,
        "get_device_capability": get_device_capability,
        "get_device_properties": get_device_properties,
        "Stream": Stream,
        "device": device,
        "get_arch_list": lambda: [],  # no CUDA architectures: nothing here runs CUDA binaries
        "get_gencode_flags": lambda: "",
        "get_sync_debug_mode": lambda: 0,
        "range_push": _nvtx.range_push, "range_pop": _nvtx.range_pop, "mark": _nvtx.mark, "range": _nvtx.range,
        "range_start": refusing("torch.cuda.nvtx.range_start", NVIDIA_ONLY, "Use torch.cuda.nvtx.range"),
        "range_end": refusing("torch.cuda.nvtx.range_end", NVIDIA_ONLY, "Use torch.cuda.nvtx.range"),
    }


def replacement_for(name: str, value, special: dict):
    """What torch.cuda.<name> (or a submodule's <name>) becomes; None leaves it as it is."""
    if isinstance(value, types.ModuleType):
        return None
    if isinstance(value, type) and issubclass(value, BaseException):
        return None  # `except torch.cuda.OutOfMemoryError` keeps working
    if name in special:
        return special[name]
    if name in _LEGACY_DTYPES:
        return _legacy_type(name, _LEGACY_DTYPES[name])
    if name in REFUSED:
        return refusing(f"torch.cuda.{name}", *REFUSED[name], as_class=isinstance(value, type))
    if name in ACCEPTED:
        return _accepted(name, ACCEPTED[name])
    target = getattr(torch.deeplink, name, None)
    if callable(target):
        return target if isinstance(target, type) else mapped(value if callable(value) else None, target)
    if callable(value) and getattr(value, "__module__", "").startswith("torch.cuda"):
        return refusing(f"torch.cuda.{name}", "deeplink's CUDA compatibility mode has no counterpart for it",
                        NVIDIA_INSTEAD, as_class=isinstance(value, type))
    return None  # constants, typing helpers, imported utilities


def _public(module) -> dict:
    return {n: v for n, v in vars(module).items() if not n.startswith("_")}


def install(patches: Patches) -> None:
    cuda = torch.cuda
    for name in ("get_device_capability", "get_device_properties"):
        _REAL[name] = getattr(cuda, name)
    special = _special()
    done: dict[int, object] = {}  # id(original) -> replacement, so submodule aliases get the same object
    for name, value in _public(cuda).items():
        new = replacement_for(name, value, special)
        if new is not None:
            done[id(value)] = new
            patches.set(cuda, name, new)
    for sub in SUBMODULES:
        module = getattr(cuda, sub, None)
        if not isinstance(module, types.ModuleType):
            continue
        for name, value in _public(module).items():
            new = done.get(id(value))
            if new is None and getattr(value, "__module__", None) == module.__name__:
                new = replacement_for(name, value, special)
            if new is not None:
                patches.set(module, name, new)
    patches.set(cuda, "default_generators", torch.deeplink.default_generators)
    patches.set(cuda, "_lazy_init", torch.deeplink.init)

"""Every torch entry point that takes a device, remapped: factory functions (torch.zeros(...,
device="cuda"), the *_like functions, torch.tensor), Tensor.to/.cuda/.new_*/.type/.is_cuda,
Module.cuda/.to/.to_empty, storages' .cuda, torch.Generator, torch.set_default_device, torch.load's
map_location and DataLoader's pin_memory_device."""
from __future__ import annotations

import functools

import torch
from torch.utils._device import _device_constructors

from .devices import RealDevice, TARGET, called_from_inside, map_devices_in
from .devices import map_location as map_load_location
from .patches import Patches

#: Namespaces whose device-taking functions are remapped (torch.fft.fftfreq, torch.nested...).
_NAMESPACES = ("torch", "torch.fft", "torch.nested", "torch.sparse", "torch.special", "torch.linalg")
#: Tensor methods with a device argument (aten's new_* family, and the Python-level ones).
_TENSOR_METHODS = ("to", "new_empty", "new_empty_strided", "new_full", "new_ones", "new_zeros", "new_tensor",
                   "pin_memory", "is_pinned")


def remapping(fn):
    """`fn` with CUDA devices among its arguments read as deeplink devices (outside deeplink)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not called_from_inside(2):
            args, kwargs = map_devices_in(args, kwargs)
        return fn(*args, **kwargs)
    call.__deeplink_original__ = fn
    return call


def _aten_ops_with_device() -> set[str]:
    """Names of aten ops with a Device argument in some overload (randn, zeros_like, ...)."""
    names = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        if not qualified.startswith("aten::"):
            continue
        for schema in torch._C._jit_get_schemas_for_operator(qualified):
            if any("Device" in str(a.type) for a in schema.arguments):
                names.add(qualified[len("aten::"):].split(".")[0])
                break
    return names


def device_taking_functions() -> list[tuple[object, str]]:
    """(namespace, name) of every public function that takes a device."""
    import importlib
    constructors = set(_device_constructors())
    aten = _aten_ops_with_device()
    found = []
    for ns_name in _NAMESPACES:
        ns = importlib.import_module(ns_name)
        for name, value in vars(ns).items():
            if name.startswith("_") or not callable(value) or isinstance(value, type):
                continue
            try:
                known = value in constructors
            except TypeError:
                known = False
            if known or (ns is torch and name in aten):
                found.append((ns, name))
    return found


def _deeplink_device(device) -> RealDevice:
    """Tensor.cuda(device)'s target: the current deeplink device, or the index / device given."""
    if device is None:
        return RealDevice(TARGET, torch.deeplink.current_device())
    if isinstance(device, int):
        return RealDevice(TARGET, device)
    device = torch.device(device)  # the compat torch.device maps "cuda"
    if device.type != TARGET:
        raise ValueError(f"Tensor.cuda(device={device}): expected a CUDA device or index (CUDA compatibility "
                         f"mode reads it as the deeplink device of the same index)")
    return device


def _tensor_cuda(original):
    @functools.wraps(original)
    def cuda(self, device=None, non_blocking=False, memory_format=torch.preserve_format):
        if called_from_inside(2):
            return original(self, device, non_blocking, memory_format)
        return self.to(_deeplink_device(device), non_blocking=non_blocking, memory_format=memory_format)
    return cuda


def _is_cuda(self) -> bool:
    """True for deeplink tensors (and real CUDA ones): code that asks takes its GPU path."""
    return self.device.type in (TARGET, "cuda")


def _tensor_type(original):
    @functools.wraps(original)
    def type_(self, dtype=None, non_blocking=False, **kwargs):
        from .cuda_namespace import legacy_type_target
        target = legacy_type_target(dtype)
        if target is None or called_from_inside(2):
            return original(self, dtype, non_blocking, **kwargs)
        return self.to(device=target[1], dtype=target[0], non_blocking=non_blocking)
    return type_


def _module_cuda(original):
    @functools.wraps(original)
    def cuda(self, device=None):
        if called_from_inside(2):
            return original(self, device)
        return self.to(_deeplink_device(device))
    return cuda


def _storage_cuda(original):
    @functools.wraps(original)
    def cuda(self, device=None, non_blocking=False):
        if called_from_inside(2):
            return original(self, device, non_blocking)
        return self.deeplink(_deeplink_device(device).index, non_blocking)
    return cuda


class _GeneratorType(type):
    """torch.Generator("cuda") is a deeplink generator; isinstance answers for the real type."""
    real = torch._C.Generator

    def __call__(cls, *args, **kwargs):
        if not called_from_inside(2):
            args, kwargs = map_devices_in(args, kwargs)
        return cls.real(*args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, cls.real)


class Generator(metaclass=_GeneratorType):
    """torch.Generator while CUDA compatibility is on."""


Generator.__module__ = "torch"


def _load(original):
    @functools.wraps(original)
    def load(f, map_location=None, *args, **kwargs):
        return original(f, map_load_location(map_location), *args, **kwargs)
    return load


def install(patches: Patches) -> None:
    for ns, name in device_taking_functions():
        patches.set(ns, name, remapping(getattr(ns, name)))
    for name in _TENSOR_METHODS:
        patches.set(torch.Tensor, name, remapping(getattr(torch.Tensor, name)))
    patches.set(torch.Tensor, "cuda", _tensor_cuda(torch.Tensor.cuda))
    patches.set(torch.Tensor, "is_cuda", property(_is_cuda))
    patches.set(torch.Tensor, "type", _tensor_type(torch.Tensor.type))
    patches.set(torch.nn.Module, "cuda", _module_cuda(torch.nn.Module.cuda))
    for name in ("to", "to_empty"):
        patches.set(torch.nn.Module, name, remapping(getattr(torch.nn.Module, name)))
    for storage in (torch.storage._StorageBase, torch.TypedStorage):
        patches.set(storage, "cuda", _storage_cuda(storage.cuda))
    patches.set(torch, "Generator", Generator)
    patches.set(torch, "set_default_device", remapping(torch.set_default_device))
    patches.set(torch, "load", _load(torch.load))
    from torch.utils.data import DataLoader
    patches.set(DataLoader, "__init__", remapping(DataLoader.__init__))

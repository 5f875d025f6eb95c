"""What "cuda" means in CUDA compatibility mode: the deeplink device, same index.

One rule for every patched entry point: a device given as "cuda", "cuda:N", torch.device("cuda", N)
(or a bare index, which torch already reads as the current accelerator) names deeplink:N. Calls made
by deeplink itself and by torch.cuda's own code keep their meaning: the cuda backend and the real
torch.cuda functions it calls need real CUDA (`called_from_inside`).
"""
from __future__ import annotations

import re
import sys

import torch

TARGET = "deeplink"
_CUDA = re.compile(r"^cuda(?=$|:)")
#: Modules whose calls are never remapped: deeplink's own (its cuda backend talks to real CUDA)
#: and torch.cuda's implementation (reached only through deeplink's cuda backend).
_INSIDE = ("deeplink.", "torch.cuda")
_OWN = "deeplink.migration"

RealDevice = torch._C.device  # the C type behind torch.device, whatever torch.device is bound to


def called_from_inside(depth: int = 2) -> bool:
    """Whether the function `depth` frames up (1: the caller of the function calling this) is
    deeplink's or torch.cuda's own code, whose "cuda" means real CUDA."""
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return name.startswith(_INSIDE) and not name.startswith(_OWN)


def is_cuda_device(value) -> bool:
    if isinstance(value, str):
        return _CUDA.match(value) is not None
    return isinstance(value, RealDevice) and value.type == "cuda"


def map_device(value):
    """deeplink's counterpart of a CUDA device (str or torch.device); anything else unchanged."""
    if isinstance(value, str):
        return _CUDA.sub(TARGET, value, count=1)
    if isinstance(value, RealDevice) and value.type == "cuda":
        return RealDevice(TARGET, value.index) if value.index is not None else RealDevice(TARGET)
    return value


def map_devices_in(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """`args`/`kwargs` with every CUDA device among them (top level) mapped."""
    if any(is_cuda_device(a) for a in args):
        args = tuple(map_device(a) for a in args)
    if any(is_cuda_device(v) for v in kwargs.values()):
        kwargs = {k: map_device(v) for k, v in kwargs.items()}
    return args, kwargs


def map_location(value):
    """torch.load's map_location: a device, a {from: to} dict, or a callable (left alone)."""
    if isinstance(value, dict):
        return {k: map_device(v) for k, v in value.items()}
    return map_device(value)


class _DeviceType(type):
    """Metaclass of the stand-in for torch.device: constructing maps "cuda", and isinstance /
    issubclass / equality answer for the real torch.device type."""

    def __call__(cls, *args, **kwargs):
        if not called_from_inside(2):
            args, kwargs = map_devices_in(args, kwargs)
        return RealDevice(*args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, RealDevice)

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, RealDevice)

    def __eq__(cls, other) -> bool:
        return other is cls or other is RealDevice

    def __hash__(cls) -> int:
        return hash(RealDevice)


class device(metaclass=_DeviceType):
    """torch.device while CUDA compatibility is on: torch.device("cuda", 1) is deeplink:1."""


device.__module__ = "torch"  # pickles of devices name torch.device, whichever it is when loaded

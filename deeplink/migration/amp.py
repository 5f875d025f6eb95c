"""Mixed precision in CUDA compatibility mode: torch.autocast("cuda"), torch.amp.autocast(device_type=
"cuda"), torch.cuda.amp.autocast(), torch.amp.GradScaler() / ("cuda") / torch.cuda.amp.GradScaler(),
custom_fwd/custom_bwd and the autocast state functions all address the deeplink device, whose
autocast cast lists are CUDA's (csrc/shim/autocast.cpp)."""
from __future__ import annotations

import functools

import torch

from .devices import TARGET, called_from_inside, map_device
from .patches import Patches

_RealAutocast = torch.amp.autocast_mode.autocast
_RealGradScaler = torch.amp.grad_scaler.GradScaler
_real_custom_fwd = torch.amp.autocast_mode.custom_fwd
_real_custom_bwd = torch.amp.autocast_mode.custom_bwd


class autocast(_RealAutocast):
    """torch.autocast whose "cuda" is the deeplink device."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        super().__init__(map_device(device_type), dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class cuda_autocast(autocast):
    """torch.cuda.amp.autocast(enabled, dtype, cache_enabled): autocast on the deeplink device."""

    def __init__(self, enabled: bool = True, dtype: torch.dtype = torch.float16, cache_enabled: bool = True):
        super().__init__(TARGET, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_RealGradScaler):
    """torch.amp.GradScaler whose default (and "cuda") device is deeplink."""

    def __init__(self, device: str = TARGET, *args, **kwargs):
        super().__init__(map_device(device), *args, **kwargs)


class cuda_GradScaler(_RealGradScaler):
    """torch.cuda.amp.GradScaler(init_scale, ...): a GradScaler on the deeplink device."""

    def __init__(self, *args, **kwargs):
        super().__init__(TARGET, *args, **kwargs)


def custom_fwd(fwd=None, *, device_type: str = TARGET, cast_inputs=None):
    return _real_custom_fwd(fwd, device_type=map_device(device_type), cast_inputs=cast_inputs)


def custom_bwd(bwd=None, *, device_type: str = TARGET):
    return _real_custom_bwd(bwd, device_type=map_device(device_type))


def cuda_custom_fwd(fwd=None, *, cast_inputs=None):
    return custom_fwd(fwd, device_type=TARGET, cast_inputs=cast_inputs)


def cuda_custom_bwd(bwd=None):
    return custom_bwd(bwd, device_type=TARGET)


def _state_function(original):
    """torch.is_autocast_enabled(device_type) & co: "cuda" (or no device, CUDA's legacy form)
    address deeplink."""
    @functools.wraps(original)
    def call(*args, **kwargs):
        if called_from_inside(2):
            return original(*args, **kwargs)
        if args and isinstance(args[0], str):
            args = (map_device(args[0]),) + args[1:]
        elif "device_type" in kwargs:
            kwargs = {**kwargs, "device_type": map_device(kwargs["device_type"])}
        elif original.__name__ in _LEGACY_NO_DEVICE:
            args = (TARGET,) + args
        return original(*args, **kwargs)
    return call


#: State functions whose no-device form meant CUDA (and so now means deeplink).
_LEGACY_NO_DEVICE = ("is_autocast_enabled", "set_autocast_enabled")
_STATE = ("is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype")


def _gpu_dtype(getter: bool):
    # torch.get_autocast_gpu_dtype / set_autocast_gpu_dtype: the deprecated CUDA-only names.
    if getter:
        return lambda: torch._C.get_autocast_dtype(TARGET)
    return lambda dtype: torch._C.set_autocast_dtype(TARGET, dtype)


def install(patches: Patches) -> None:
    amp_mode = torch.amp.autocast_mode
    for owner in (torch, torch.amp, amp_mode):
        patches.set(owner, "autocast", autocast)
    for owner in (torch.amp, torch.amp.grad_scaler):
        patches.set(owner, "GradScaler", GradScaler)
    for owner in (torch.amp, amp_mode):
        patches.set(owner, "custom_fwd", custom_fwd)
        patches.set(owner, "custom_bwd", custom_bwd)
    patches.set(amp_mode, "is_autocast_available", _state_function(amp_mode.is_autocast_available))
    patches.set(torch.amp, "is_autocast_available", amp_mode.is_autocast_available)
    for name in _STATE:
        patches.set(torch, name, _state_function(getattr(torch, name)))
    patches.set(torch, "get_autocast_gpu_dtype", _gpu_dtype(True))
    patches.set(torch, "set_autocast_gpu_dtype", _gpu_dtype(False))
    cuda_amp = torch.cuda.amp
    patches.set(cuda_amp, "autocast", cuda_autocast)
    patches.set(cuda_amp, "GradScaler", cuda_GradScaler)
    patches.set(cuda_amp, "custom_fwd", cuda_custom_fwd)
    patches.set(cuda_amp, "custom_bwd", cuda_custom_bwd)
    for sub in ("autocast_mode", "grad_scaler"):
        module = getattr(cuda_amp, sub, None)
        if module is not None:
            for name, new in (("autocast", cuda_autocast), ("GradScaler", cuda_GradScaler),
                              ("custom_fwd", cuda_custom_fwd), ("custom_bwd", cuda_custom_bwd)):
                if hasattr(module, name):
                    patches.set(module, name, new)

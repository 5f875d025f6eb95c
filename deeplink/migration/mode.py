"""Turning CUDA compatibility mode on and off in this process (deeplink.cuda_compat.enable)."""
from __future__ import annotations

import threading

import torch

from . import amp, cuda_namespace, devices, distributed, parallel, refusals, tensors
from .patches import Patches

#: Set by `deeplink run` for the processes it starts (workers of torchrun, spawned DataLoader and
#: multiprocessing children); read by the startup hook (deeplink/migration/startup/sitecustomize.py).
ENV_FLAG = "DEEPLINK_CUDA_COMPAT"

_lock = threading.Lock()
_patches: Patches | None = None


def is_enabled() -> bool:
    return _patches is not None


def enable(backend: str | None = None) -> None:
    """Make CUDA code run on the deeplink device in this process: "cuda" devices are deeplink
    devices, torch.cuda is torch.deeplink (plus CUDA-shaped adapters), autocast/GradScaler/NCCL
    address deeplink, and CUDA-only features raise CudaCompatError. `backend` switches the active
    backend first (deeplink.use). Idempotent; `disable()` undoes it."""
    global _patches
    import deeplink
    with _lock:
        if backend is not None:
            deeplink.use(backend)
        if _patches is not None:
            return
        patches = Patches()
        try:
            patches.set(torch, "device", devices.device)
            tensors.install(patches)
            cuda_namespace.install(patches)
            amp.install(patches)
            distributed.install(patches)
            parallel.install(patches)
            refusals.install_cpp_extension(patches)
        except BaseException:
            patches.undo()
            raise
        _patches = patches
    from deeplink.compile.import_hooks import when_imported
    when_imported("triton", _patch_triton)


def _patch_triton() -> None:
    with _lock:
        if _patches is not None:
            refusals.install_triton(_patches)


def disable() -> None:
    """Undo enable(): every patched name gets its original back. Tensors already made stay on the
    deeplink device."""
    global _patches
    with _lock:
        if _patches is not None:
            _patches.undo()
            _patches = None

"""NCCL in CUDA compatibility mode: init_process_group("nccl") (and "cuda:nccl", "cpu:gloo,cuda:nccl",
new_group(backend="nccl"), is_nccl_available()) use deeplink's c10d backend, whose collectives come
from the active vendor backend (NCCL on the cuda backend, HCCL on Ascend, gloo on host memory)."""
from __future__ import annotations

import functools
import re

from .devices import map_device
from .patches import Patches
from .refusals import refuse

C10D_BACKEND = "deeplink"  # the c10d backend of deeplink's torch.distributed support (issue 10)


def map_backend(backend):
    """deeplink's counterpart of a torch.distributed backend string naming NCCL."""
    if not isinstance(backend, str) or "nccl" not in backend.lower():
        return backend
    parts = []
    for part in backend.split(","):
        device, sep, name = part.rpartition(":")
        if name.strip().lower() == "nccl":
            name = C10D_BACKEND
        parts.append(f"{map_device(device.strip())}{sep}{name}" if sep else name)
    return ",".join(parts)


def _deeplink_backend_registered() -> bool:
    import torch.distributed as dist
    return C10D_BACKEND in dist.Backend.backend_list


def _mapping_backend(original, call: str):
    @functools.wraps(original)
    def call_(*args, **kwargs):
        if "backend" in kwargs:
            kwargs["backend"] = _checked(map_backend(kwargs["backend"]), call)
        elif args and isinstance(args[0], str):
            args = (_checked(map_backend(args[0]), call),) + args[1:]
        return original(*args, **kwargs)
    return call_


def _checked(backend: str, call: str) -> str:
    if isinstance(backend, str) and re.search(rf"\b{C10D_BACKEND}\b", backend) and not _deeplink_backend_registered():
        refuse(f"{call}(backend='nccl')", "CUDA compatibility maps NCCL to deeplink's c10d backend 'deeplink', "
                                          "which this installation does not register",
               "Use a deeplink with torch.distributed support (issue 10), or run single-process")
    return backend


def install(patches: Patches) -> None:
    import torch.distributed as dist
    if not dist.is_available():
        return
    patches.set(dist, "init_process_group", _mapping_backend(dist.init_process_group, "init_process_group"))
    patches.set(dist, "new_group", _mapping_backend(dist.new_group, "new_group"))
    patches.set(dist, "is_nccl_available", _deeplink_backend_registered)

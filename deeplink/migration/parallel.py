"""torch.nn.DataParallel's copies between devices (torch.nn.parallel.comm, also torch.cuda.comm):
in a CUDA build of torch they are C++ functions over CUDA tensors, absent from other builds. Here
they are written with plain tensor copies between deeplink devices, so DataParallel (which the HF
Trainer picks when torch.cuda.device_count() > 1) runs on several deeplink devices."""
from __future__ import annotations

import torch

from .devices import TARGET, map_device
from .patches import Patches


def _device(d) -> torch.device:
    if d is None:
        return torch.device(TARGET, torch.deeplink.current_device())
    if isinstance(d, int):
        return torch.device("cpu") if d == -1 else torch.device(TARGET, d)
    return torch.device(map_device(d))


def broadcast(tensor, devices=None, *, out=None):
    if out is not None:
        for o in out:
            o.copy_(tensor)
        return tuple(out)
    return tuple(tensor.to(_device(d), copy=True) for d in devices)


def broadcast_coalesced(tensors, devices, buffer_size=10485760):
    per_device = [tuple(t.to(_device(d), copy=True) for t in tensors) for d in devices]
    return tuple(per_device)


def reduce_add(inputs, destination=None):
    dest = _device(destination)
    total = inputs[0].to(dest, copy=True)
    for t in inputs[1:]:
        total.add_(t.to(dest))
    return total


def reduce_add_coalesced(inputs, destination=None, buffer_size=10485760):
    return tuple(reduce_add(list(group), destination) for group in zip(*inputs))


def scatter(tensor, devices=None, chunk_sizes=None, dim=0, streams=None, *, out=None):
    if out is not None:
        chunks = tensor.split([o.size(dim) for o in out], dim)
        for o, c in zip(out, chunks):
            o.copy_(c)
        return tuple(out)
    chunks = tensor.split(list(chunk_sizes), dim) if chunk_sizes else tensor.chunk(len(devices), dim)
    return tuple(c.to(_device(d), non_blocking=True).contiguous() for c, d in zip(chunks, devices))


def gather(tensors, dim=0, destination=None, *, out=None):
    if out is not None:
        return torch.cat([t.to(out.device) for t in tensors], dim, out=out)
    dest = _device(destination)
    return torch.cat([t.to(dest) for t in tensors], dim)


def install(patches: Patches) -> None:
    from torch.nn.parallel import comm
    for fn in (broadcast, broadcast_coalesced, reduce_add, reduce_add_coalesced, scatter, gather):
        patches.set(comm, fn.__name__, fn)
        if hasattr(torch.cuda, "comm"):
            patches.set(torch.cuda.comm, fn.__name__, fn)

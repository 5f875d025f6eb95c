"""deeplink tensors and storages through torch.multiprocessing (queues, pipes, DataLoader workers).

torch's reducer shares CUDA memory through CUDA IPC and every other storage as if it were CPU
memory, which for a deeplink storage is wrong (the consumer would wait for data that never
arrives). Here a deeplink storage of a host-memory backend (cpu, and plugins whose runtime memory is
host memory) is moved once into shared memory that deeplink adopts in place; the consumer maps the
same pages as a deeplink storage of the same backend and device. Writes on either side are seen by
the other, as with CPU and CUDA tensors. A backend whose memory is not host memory raises a clear
error instead (send `tensor.cpu()`).
"""
from __future__ import annotations

import weakref
from multiprocessing.reduction import ForkingPickler

import torch

from . import _C, registry

# deeplink storage data pointer -> the shared CPU storage now holding its bytes, so a storage sent
# twice is moved once. Weak: the deeplink storage owns the shared one.
_moved: dict[int, weakref.ref] = {}
_torch_reduce_storage = None


def _shared_host_storage(storage: torch.UntypedStorage) -> torch.UntypedStorage:
    key = storage.data_ptr()
    ref = _moved.get(key)
    shared = ref() if ref is not None else None
    if shared is None or shared.data_ptr() != key or shared.nbytes() != storage.nbytes():
        shared = torch.UntypedStorage(storage.nbytes()).share_memory_()
        _C._move_into_host_storage(storage, shared)
        _moved[storage.data_ptr()] = weakref.ref(shared)
    return shared


def reduce_storage(storage):
    if storage.device.type != "deeplink":
        return _torch_reduce_storage(storage)
    slot, device = _C._storage_owner(storage)
    rec = registry.record_of_slot(slot)
    if not _C._backend_host_accessible(slot):
        raise RuntimeError(f"deeplink: backend '{rec.name}' keeps its memory on the device, so its tensors cannot be "
                           "shared with another process; send tensor.cpu() and move it to 'deeplink' there")
    if storage.nbytes() == 0:
        return rebuild_empty_storage, (device,)
    return rebuild_storage, (rec.name, device, _shared_host_storage(storage))


def rebuild_storage(backend: str, device: int, shared: torch.UntypedStorage) -> torch.UntypedStorage:
    rec = registry.get(backend)
    if not rec.available:
        raise RuntimeError(f"deeplink: received a tensor of backend '{backend}', which is not available in this "
                           f"process: {rec.reason}")
    return _C._storage_from_host(shared, registry.ensure_slot(rec), device)


def rebuild_empty_storage(device: int) -> torch.UntypedStorage:
    return torch.UntypedStorage(0, device=torch.device("deeplink", device))


def install() -> None:
    """Put reduce_storage in front of torch's reducer for UntypedStorage (tensors and typed
    storages reduce to their untyped storage, so this one entry covers them)."""
    global _torch_reduce_storage
    current = ForkingPickler._extra_reducers.get(torch.UntypedStorage)
    if current is reduce_storage:
        return
    _torch_reduce_storage = current
    ForkingPickler.register(torch.UntypedStorage, reduce_storage)

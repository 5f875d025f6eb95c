"""deeplink as a torch.distributed (c10d) backend.

    import deeplink
    dist.init_process_group("deeplink")            # or no backend: deeplink is the default for the
    dist.init_process_group()                      # deeplink device; or a device map such as
    dist.init_process_group("cpu:gloo,deeplink:deeplink")

`register()` (run by `import deeplink`) registers the backend for the "deeplink" and "cpu" device
types (CPU tensors go to the group's own gloo, so object collectives and checkpoint metadata work
under "deeplink" alone) and makes it the default backend of the deeplink device. `new_backend()`
builds one backend instance; it is what the c10d creator calls and what other front ends reuse
(e.g. a CUDA-migration mode that maps "nccl" onto deeplink collectives).
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch.distributed as dist

from . import stats
from .communicator import GroupInfo
from .negotiation import decide, exchange

BACKEND = "deeplink"
DEVICES = ("deeplink", "cpu")


def register() -> None:
    if not dist.is_available() or BACKEND in dist.Backend.backend_list:
        return
    dist.Backend.register_backend(BACKEND, _create, extended_api=True, devices=list(DEVICES))
    dist.Backend.default_device_backend_map["deeplink"] = BACKEND


def _create(opts, pg_options=None):
    """c10d's creator (extended API): a _DistributedBackendOptions in, a c10d Backend out."""
    return new_backend(opts.store, opts.group_rank, opts.group_size, opts.timeout, group_name=opts.group_id)


def _attempt_prefix() -> str:
    """torchrun keeps one store for all attempts of a job, and a restarted job's groups get the
    names of the previous attempt's: without this prefix a restarted rank could read a dead
    rank's address (gloo) or root info (HCCL) and wait on it until the timeout."""
    return f"attempt{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/"


def collectives_of(backend):
    """The backend's Collectives, or None when it has no collective library of its own."""
    make = getattr(backend, "collectives", None)
    return make() if make is not None else None


def new_backend(store, rank: int, size: int, timeout: timedelta, *, group_name: str = "", backend: str | None = None):
    """One rank's c10d Backend for a process group, on deeplink backend `backend` (default: the
    active one). Collective: every rank of the group calls it with the same store."""
    from deeplink import registry
    from ._ext import extension
    from .engine import Engine
    from .staging import StagedCommunicator

    rec = registry.active() if backend is None else registry.get(backend)
    store = dist.PrefixStore(_attempt_prefix(), store)
    gloo = dist.ProcessGroupGloo(dist.PrefixStore("gloo/", store), rank, size, timeout)
    group = GroupInfo(dist.PrefixStore("collectives/", store), rank, size, timeout, group_name, gloo)
    collectives = collectives_of(rec.backend)
    offer = {"backend": rec.name, "library": collectives.library if collectives else None}
    plan = decide(exchange(store, rank, size, offer), rank)
    comm = collectives.connect(group) if plan["path"] is None else StagedCommunicator(group, plan["path"])
    engine = Engine(group, comm, rec.name, registry.ensure_slot(rec), plan)
    backend = extension().EngineBackend(engine, rank, size)
    if comm.path == stats.HOST_VIEW and rec is registry.active():
        engine.fast_path = _fast_path(backend, engine, comm, rec)
    return backend


def _fast_path(backend, engine, comm, rec):
    """Hands the common host-view cases to C++ (csrc/distributed/fast_path.h): it takes tensors of
    this backend whose memory is of the kinds sampled here (the caching allocator's, and memory
    adopted from ATen for backends that run ATen kernels)."""
    import torch

    from deeplink import from_aten
    dtypes = [torch.empty(0, dtype=d) for d in comm.reduce_dtypes & comm.copy_dtypes]
    fast = backend.enable_fast_path(comm.gloo, engine.slot, dtypes, [int(op) for op in comm.reduce_ops],
                                    engine.label(stats.HOST_VIEW), stats.fast_path_counters(engine.name))
    fast.learn_owner(torch.empty(1, device="deeplink"))
    if rec.backend.aten_device == "cpu":
        fast.learn_owner(from_aten(torch.empty(1)))
    return fast

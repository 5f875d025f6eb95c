"""deeplink inside torch.distributed: a c10d backend whose collectives come from the active vendor
backend (docs/distributed.md).

    import torch.distributed as dist, deeplink
    dist.init_process_group("deeplink")          # under torchrun
    dist.all_reduce(torch.ones(4, device="deeplink"))
    deeplink.distributed.collective_stats()      # which path each collective took

Backends supply collectives through Backend.collectives() (communicator.py); host-memory backends
use HostViewCollectives (gloo on zero-copy host views); a backend without collectives is staged
through host memory (staging.py), counted like an op fallback.
"""
from __future__ import annotations

from . import stats as _stats
from .c10d import BACKEND, new_backend, register
from .communicator import Collectives, Communicator, GroupInfo
from .host_views import HostViewCollectives


def _group_name(group) -> str | None:
    if group is None or isinstance(group, str):
        return group
    return group.group_name


def collective_stats(group=None) -> dict:
    """{group name: {collective: {path: {"calls", "bytes"}}}} of this process; one group's
    {collective: {path: ...}} when `group` (a ProcessGroup or its name) is given."""
    return _stats.collective_stats(_group_name(group))


def reset_collective_stats() -> None:
    _stats.reset()


def describe(group=None) -> dict:
    """How `group` (default: the default group) runs collectives of deeplink tensors on this rank:
    its backend, library, path, and what every rank offered."""
    import torch
    import torch.distributed as dist
    pg = group or dist.group.WORLD
    backend = pg._get_backend(torch.device("deeplink"))
    engine = getattr(backend, "engine", None)
    if engine is None:
        raise ValueError(f"process group {pg.group_name!r} does not run deeplink tensors on the deeplink backend "
                         f"(its deeplink device backend is {backend.name()!r})")
    return engine.describe()


__all__ = ["BACKEND", "Collectives", "Communicator", "GroupInfo", "HostViewCollectives", "collective_stats",
           "describe", "new_backend", "register", "reset_collective_stats"]

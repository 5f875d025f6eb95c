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


def backend_collectives(name: str) -> dict:
    """What runs torch.distributed collectives of backend `name`'s tensors, for `deeplink info`:
    {"library": ..., "description": ...}; library None means staged through host memory."""
    from deeplink import registry

    from .c10d import collectives_of
    collectives = collectives_of(registry.get(name).backend)
    if collectives is None:
        return {"library": None, "description": "none of its own: staged through host memory into gloo, "
                                               "counted like op fallbacks"}
    return {"library": collectives.library, "description": collectives.description}


def plan(backends: list) -> dict:
    """What a process group whose rank i runs deeplink backend backends[i] would do, without
    starting one (`deeplink info --ranks a,b,c`): {"library": the group's, "ranks": [{"backend",
    "library", "path"}]}, decided exactly as the ranks decide (negotiation.py)."""
    from .negotiation import decide
    offers = [{"backend": b, "library": backend_collectives(b)["library"]} for b in backends]
    ranks = []
    for r, offer in enumerate(offers):
        staged = decide(offers, r)["path"]
        # a library used directly: gloo runs on host views; others' paths are their names
        direct = _stats.HOST_VIEW if offer["library"] == "gloo" else offer["library"]
        ranks.append({**offer, "path": staged or direct})
    return {"library": decide(offers, 0)["library"], "ranks": ranks}


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


__all__ = ["BACKEND", "Collectives", "Communicator", "GroupInfo", "HostViewCollectives", "backend_collectives",
           "collective_stats", "describe", "new_backend", "plan", "register", "reset_collective_stats"]

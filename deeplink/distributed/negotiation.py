"""How the ranks of a process group agree on a collective library.

Each rank publishes its offer in the group's store: its deeplink backend and the library of that
backend's collectives (None when it has none). When every rank offers the same library, they all
use it (all-Ascend ranks: HCCL; all host-memory ranks: gloo on host views). Otherwise the group
meets in gloo: ranks whose collectives are gloo on host views keep them, the others stage through
host memory (staging.py), as "mixed" when their own library just cannot reach the others, as
"fallback" when they have none. The decision is the same on every rank, from the same offers.
"""
from __future__ import annotations

import json

from . import stats

GLOO = "gloo"


def exchange(store, rank: int, size: int, offer: dict) -> list:
    """Every rank's offer, in rank order (blocks until all ranks published; the store's timeout
    bounds the wait)."""
    store.set(f"deeplink/offer/{rank}", json.dumps(offer))
    return [json.loads(store.get(f"deeplink/offer/{r}")) for r in range(size)]


def decide(offers: list, rank: int) -> dict:
    """{"library": the group's library, "path": this rank's path (stats.py) or None when it uses
    its own library directly, "offers": what each rank offered}."""
    libraries = {o["library"] for o in offers}
    mine = offers[rank]["library"]
    if len(libraries) == 1 and mine is not None:
        return {"library": mine, "path": None, "offers": offers}
    if mine == GLOO:
        path = None
    elif mine is None:
        path = stats.STAGED_FALLBACK
    else:
        path = stats.STAGED_MIXED
    return {"library": GLOO, "path": path, "offers": offers}

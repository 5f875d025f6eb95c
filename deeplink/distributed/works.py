"""c10d Work objects made in Python: from futures, or waiting on several."""
from __future__ import annotations

import torch
from torch._C._distributed_c10d import _create_work_from_future


def future_of(work):
    """work's future; for works without one (gloo's send, reduce_scatter, ...), a future that a
    helper thread completes when the work does (csrc/distributed/engine_backend.cpp)."""
    try:
        return work.get_future()
    except RuntimeError:
        from ._ext import extension
        return extension().wrap_work(work, [], None, "").get_future()


def all_of(works: list, finish=None):
    """A Work that completes when every one of `works` has, after `finish()` (when given) ran;
    the first failure fails it."""
    fut = torch.futures.collect_all([future_of(w) for w in works])

    def done(f):
        for child in f.value():
            child.value()  # re-raises a failed child's error
        if finish is not None:
            finish()
        return []
    return _create_work_from_future(fut.then(done))


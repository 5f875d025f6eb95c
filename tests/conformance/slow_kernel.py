"""A reference-mode plugin whose add, mul, sum and sin take 0.5 s a call (a run long enough to
interrupt)."""
import time

import torch

aten = torch.ops.aten


def _slow(op):
    def kernel(*args, **kwargs):
        time.sleep(0.5)
        return op(*args, **kwargs)
    return kernel


def reference_overrides():
    return {"add.Tensor": _slow(aten.add.Tensor), "mul.Tensor": _slow(aten.mul.Tensor),
            "sum": _slow(aten.sum.default), "sum.dim_IntList": _slow(aten.sum.dim_IntList),
            "sin": _slow(aten.sin.default)}

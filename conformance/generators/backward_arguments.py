"""Backward overloads called with the arguments OpInfo's gradient samples leave at their defaults.

embedding's gradient samples never set padding_idx in the golden draw, so a backward that ignores
it (the padding row must get no gradient) passed every golden case. These cases call the backward
overload directly with those arguments set.
"""
from __future__ import annotations

import torch

from ..compare import Comparison, compare_leaf
from ..tolerance import for_case

REF_FLOAT64 = "aten-cpu-float64"
FLOAT_DTYPES = ("float32", "bfloat16", "float16")

# (num_weights, indices shape, padding_idx, scale_grad_by_freq)
EMBEDDING_BACKWARD = [
    dict(num_weights=10, shape=(4, 6), padding_idx=0, scale=False),
    dict(num_weights=7, shape=(16,), padding_idx=3, scale=False),
    dict(num_weights=12, shape=(3, 5), padding_idx=-1, scale=True),
    dict(num_weights=9, shape=(2, 3, 4), padding_idx=2, scale=True),
]

OPS = {"embedding_dense_backward": EMBEDDING_BACKWARD}


def _seed(op: str, dtype: str, index: int) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(f"{op}/{dtype}/{index}")) % 2**31


def enumerate_cases(dtypes: list[str]):
    return [(op, "gradients", dtype, i, dict(p)) for op, params in OPS.items()
            for dtype in dtypes if dtype in FLOAT_DTYPES for i, p in enumerate(params)]


class EmbeddingBackwardProgram:
    reference = REF_FLOAT64
    check_kind = "value (weight gradient; the padding row gets none)"

    def __init__(self, case: dict):
        p = case["params"]
        self.dtype = getattr(torch, case["dtype"])
        g = torch.Generator().manual_seed(_seed(case["op"], case["dtype"], case["index"]))
        n = p["num_weights"]
        self.indices = torch.randint(0, n, p["shape"], generator=g)
        pad = p["padding_idx"] % n
        self.indices.view(-1)[::3] = pad           # the padding row is used, and must get no gradient
        self.grad = torch.randn(*p["shape"], 5, generator=g).to(self.dtype)
        self.args = (n, p["padding_idx"] if p["padding_idx"] >= 0 else pad, p["scale"])
        expected = torch.ops.aten.embedding_dense_backward(self.grad.double(), self.indices, *self.args)
        self.expected = expected.to(self.dtype)
        self.tol = for_case(self.dtype, [case["op"]], kind="gradients")

    def execute(self, device: str):
        out = torch.ops.aten.embedding_dense_backward(self.grad.to(device, copy=True),
                                                      self.indices.to(device, copy=True), *self.args)
        return out.cpu()

    def check(self, out) -> Comparison:
        return compare_leaf(out, self.expected, self.tol, "grad_weight")


def build(case: dict):
    return EmbeddingBackwardProgram(case)

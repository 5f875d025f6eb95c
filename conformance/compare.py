"""Compare a backend's outputs with the expected ones under a Tolerance (conformance/tolerance.py).

Both sides are CPU trees (tensors, tuples, lists, Python numbers, None). The result says whether
they agree and, for the report, the largest absolute and relative error seen and the share of
elements outside the bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch.utils._pytree import tree_flatten

from .tolerance import EXACT, Tolerance


@dataclass
class Comparison:
    ok: bool = True
    max_abs: float = 0.0
    max_rel: float = 0.0
    normwise_rel: float = 0.0        # ||actual - expected|| / ||expected|| (2-norm, finite elements)
    mismatch_ratio: float = 0.0
    tol_ratio: float = 0.0           # max over elements of |actual - expected| / (atol + rtol*|expected|)
    elements: int = 0
    via_normwise: bool = False       # passed only by the norm-wise criterion
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        if len(self.problems) < 5:
            self.problems.append(message)

    def merge(self, other: "Comparison") -> None:
        self.ok = self.ok and other.ok
        self.max_abs = max(self.max_abs, other.max_abs)
        self.max_rel = max(self.max_rel, other.max_rel)
        self.normwise_rel = max(self.normwise_rel, other.normwise_rel)
        self.tol_ratio = max(self.tol_ratio, other.tol_ratio)
        self.via_normwise = self.via_normwise or other.via_normwise
        total = self.elements + other.elements
        if total:
            self.mismatch_ratio = (self.mismatch_ratio * self.elements
                                   + other.mismatch_ratio * other.elements) / total
        self.elements = total
        for p in other.problems:
            if len(self.problems) < 5:
                self.problems.append(p)


def _leaves(tree) -> list:
    return tree_flatten(tree)[0]


def compare_trees(actual, expected, tol: Tolerance, what: str = "output") -> Comparison:
    """Leaf by leaf; the structures (number of leaves, tensor vs not) must agree."""
    a_leaves, e_leaves = _leaves(actual), _leaves(expected)
    result = Comparison()
    if len(a_leaves) != len(e_leaves):
        result.fail(f"{what}: {len(a_leaves)} values returned, expected {len(e_leaves)}")
        return result
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        label = f"{what}[{i}]" if len(e_leaves) > 1 else what
        result.merge(compare_leaf(a, e, tol, label))
    return result


def compare_leaf(actual, expected, tol: Tolerance, label: str) -> Comparison:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            c = Comparison()
            c.fail(f"{label}: got {type(actual).__name__}, expected a tensor")
            return c
        return compare_tensors(actual, expected, tol, label)
    c = Comparison()
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            c.fail(f"{label}: got a tensor of shape {tuple(actual.shape)}, expected {expected!r}")
            return c
        actual = actual.item()
    if expected is None or isinstance(expected, (str, bool, torch.dtype, torch.device, torch.layout)):
        if actual != expected:
            c.fail(f"{label}: got {actual!r}, expected {expected!r}")
        return c
    if isinstance(expected, (int, float, complex)) and isinstance(actual, (int, float, complex, bool)):
        return compare_tensors(torch.tensor(actual), torch.tensor(expected),
                               EXACT if isinstance(expected, int) else tol, label)
    if actual != expected:
        c.fail(f"{label}: got {actual!r}, expected {expected!r}")
    return c


def _dense(t: torch.Tensor) -> torch.Tensor:
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    return t


def compare_tensors(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance, label: str) -> Comparison:
    c = Comparison()
    actual, expected = _dense(actual.detach().cpu()), _dense(expected.detach().cpu())
    if actual.dtype != expected.dtype:
        c.fail(f"{label}: dtype {str(actual.dtype)[6:]}, expected {str(expected.dtype)[6:]}")
        return c
    if actual.shape != expected.shape:
        c.fail(f"{label}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
        return c
    c.elements = expected.numel()
    if expected.dtype == torch.complex32:     # few kernels (not even torch.equal) take ComplexHalf
        actual, expected = actual.to(torch.complex64), expected.to(torch.complex64)
    if c.elements == 0 or torch.equal(actual, expected):
        return c      # bitwise equal: the common case, no need to measure errors
    if expected.is_complex():
        actual, expected = torch.view_as_real(actual), torch.view_as_real(expected)
    if not (expected.is_floating_point()):
        # Integers and bools: exact.
        bad = actual != expected
        nbad = int(bad.sum())
        if nbad:
            diff = (actual.to(torch.float64) - expected.to(torch.float64)).abs()
            c.max_abs = float(diff.max())
            c.mismatch_ratio = nbad / c.elements
            c.fail(f"{label}: {nbad} of {c.elements} values differ (exact match required)")
        return c
    a, e = actual.to(torch.float64), expected.to(torch.float64)
    both_nan = a.isnan() & e.isnan()
    same_inf = a.isinf() & e.isinf() & (a == e)
    special_ok = both_nan | same_inf
    diff = (a - e).abs()
    diff = torch.where(special_ok, torch.zeros_like(diff), diff)
    diff = torch.where(diff.isnan(), torch.full_like(diff, math.inf), diff)   # NaN vs number
    bound = tol.atol + tol.rtol * e.abs().nan_to_num(posinf=0.0, neginf=0.0)
    bad = diff > bound
    nbad = int(bad.sum())
    finite = diff.isfinite()
    c.max_abs = float(diff.max()) if c.elements else 0.0
    nonzero = (e != 0) & e.isfinite() & finite
    if bool(nonzero.any()):
        c.max_rel = float((diff[nonzero] / e[nonzero].abs()).max())
    if not bool(finite.all()) and c.max_abs != math.inf:
        c.max_abs = math.inf
    c.mismatch_ratio = nbad / c.elements
    c.tol_ratio = float((diff / bound.clamp_min(1e-300)).max())
    if bool(finite.all()):
        enorm = float(e.nan_to_num(0.0, 0.0, 0.0).norm())
        dnorm = float(diff.norm())
        c.normwise_rel = dnorm / enorm if enorm > 0 else (0.0 if dnorm == 0 else math.inf)
    else:
        c.normwise_rel = math.inf
    if nbad:
        elementwise_ok = c.mismatch_ratio <= tol.max_mismatch_ratio and c.tol_ratio <= tol.outlier_factor
        normwise_ok = tol.normwise_rtol > 0 and c.normwise_rel <= tol.normwise_rtol
        c.via_normwise = normwise_ok and not elementwise_ok
        if not (elementwise_ok or normwise_ok):
            idx = int(torch.argmax((diff / bound.clamp_min(1e-300)).flatten()))
            c.fail(f"{label}: {nbad} of {c.elements} elements outside rtol={tol.rtol:g} atol={tol.atol:g} "
                   f"(max abs err {c.max_abs:.3g}; e.g. flat index {idx}: got {a.flatten()[idx].item():.6g}, "
                   f"expected {e.flatten()[idx].item():.6g})")
    return c

"""Checks for nondeterministic ops: properties every correct result has, not CUDA's values.

Random sampling, dropout and `empty*` cannot match a recording value for value (CUDA's random
streams are not the backend's, `empty` returns whatever memory held). For these a case passes
when the output has the golden output's structure, shapes and dtypes and the values obey the
op's contract (range, support, relation to the input). The samples are small (tens of elements),
so statistical moments are only checked where there are enough draws to make them meaningful.

Each check takes CPU trees: `out` (backend), `golden` (CUDA's output, for structure), the
sample's `inp`, `args`, `kwargs`, and returns a list of problems (empty: pass).
"""
from __future__ import annotations

import functools
import math

import torch
from torch.utils._pytree import tree_flatten

MIN_DRAWS_FOR_MOMENTS = 400


def _structure(out, golden) -> list[str]:
    a, _ = tree_flatten(out)
    b, _ = tree_flatten(golden)
    if len(a) != len(b):
        return [f"{len(a)} values returned, CUDA returned {len(b)}"]
    problems = []
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(y, torch.Tensor):
            if not isinstance(x, torch.Tensor):
                problems.append(f"output[{i}]: not a tensor")
            elif x.shape != y.shape or x.dtype != y.dtype:
                problems.append(f"output[{i}]: {tuple(x.shape)} {x.dtype}, CUDA gave {tuple(y.shape)} {y.dtype}")
    return problems


def _first(out) -> torch.Tensor:
    return tree_flatten(out)[0][0]


def _in_range(t, lo, hi, closed_hi=False, what="values") -> list[str]:
    if t.numel() == 0:
        return []
    t = t.double()
    bad = (t < lo) | ((t > hi) if closed_hi else (t >= hi)) | t.isnan()
    if bool(bad.any()):
        return [f"{int(bad.sum())} {what} outside [{lo}, {hi}{']' if closed_hi else ')'}, e.g. {t[bad][0].item():.6g}"]
    return []


def _moments(t, mean, std, what) -> list[str]:
    """Sample mean within 6 standard errors of the expected mean (false alarm ~1e-9)."""
    if t.numel() < MIN_DRAWS_FOR_MOMENTS or not math.isfinite(std):
        return []
    got = float(t.double().mean())
    err = 6 * std / math.sqrt(t.numel())
    if abs(got - mean) > err:
        return [f"{what}: sample mean {got:.4g}, expected {mean:.4g} +- {err:.2g}"]
    return []


def _rtol(out, base: float) -> float:
    """`base`, or a few rounding steps of the output's dtype when that is coarser: in bfloat16 a
    kept dropout element is x/(1-p) rounded to 8 bits, not exactly x/(1-p)."""
    t = _first(out)
    return max(base, 4 * torch.finfo(t.dtype).eps) if t.is_floating_point() else base


def _finite(t) -> list[str]:
    if t.numel() and not bool(torch.isfinite(t).all()):
        return ["non-finite values"]
    return []


def check_uniform(out, inp, args, kwargs):
    lo, hi = (list(args) + [0.0, 1.0])[:2] if args else (kwargs.get("from", 0.0), kwargs.get("to", 1.0))
    t = _first(out)
    return _in_range(t, lo, hi, closed_hi=True) + _moments(t, (lo + hi) / 2, (hi - lo) / math.sqrt(12), "uniform")


def check_exponential(out, inp, args, kwargs):
    lambd = args[0] if args else kwargs.get("lambd", 1.0)
    t = _first(out)
    return _in_range(t, 0.0, math.inf) + _moments(t, 1 / lambd, 1 / lambd, "exponential")


def check_geometric(out, inp, args, kwargs):
    p = args[0] if args else kwargs["p"]
    t = _first(out)
    problems = _in_range(t, 1.0, math.inf)
    if t.numel() and not bool((t == t.round()).all()):
        problems.append("geometric draws must be whole numbers")
    return problems + _moments(t, 1 / p, math.sqrt(1 - p) / p, "geometric")


def check_log_normal(out, inp, args, kwargs):
    t = _first(out)
    return _in_range(t, 0.0, math.inf, what="log-normal draws") + _finite(t)


def check_finite(out, inp, args, kwargs):
    return [p for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) for p in _finite(t)]


def check_cauchy(out, inp, args, kwargs):
    t = _first(out)
    return [] if t.numel() == 0 or not bool(t.isnan().any()) else ["NaN in Cauchy draws"]


def check_normal_tensor(out, inp, args, kwargs):
    return check_finite(out, inp, args, kwargs)


def check_rand(out, inp, args, kwargs):
    return _in_range(_first(out), 0.0, 1.0)


def check_randint(out, inp, args, kwargs):
    # randint(high, size) | randint(low, high, size); randint_like(input, high) | (input, low, high)
    t = _first(out)
    if isinstance(inp, torch.Tensor):   # randint_like
        bounds = [a for a in args if isinstance(a, (int, float))]
    else:
        bounds = [inp] + [a for a in args if isinstance(a, (int, float))]
    bounds += [kwargs[k] for k in ("low", "high") if k in kwargs]
    lo, hi = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
    problems = _in_range(t, lo, hi, what="randint draws")
    if t.numel() and t.is_floating_point() and not bool((t == t.round()).all()):
        problems.append("randint draws must be whole numbers")
    return problems


def check_bernoulli(out, inp, args, kwargs):
    t = _first(out)
    if t.numel() and not bool(((t == 0) | (t == 1)).all()):
        return ["bernoulli draws must be 0 or 1"]
    return []


def check_multinomial(out, inp, args, kwargs):
    t = _first(out)
    n = args[0] if args else kwargs["num_samples"]
    replacement = (args[1] if len(args) > 1 else kwargs.get("replacement", False))
    probs = inp if inp.dim() == 2 else inp.unsqueeze(0)
    rows = t if t.dim() == 2 else t.unsqueeze(0)
    problems = _in_range(t, 0, probs.shape[-1], what="category indices")
    if problems or rows.shape[-1] != n:
        return problems or [f"{rows.shape[-1]} draws per row, asked for {n}"]
    for r in range(rows.shape[0]):
        picked = rows[r]
        if bool((probs[r][picked] == 0).any()):
            problems.append(f"row {r}: drew a category of probability 0")
        if not replacement and picked.unique().numel() != picked.numel():
            problems.append(f"row {r}: repeated category without replacement")
    return problems


def check_dropout(out, inp, args, kwargs):
    """Every element is 0 or input / (1 - p) (input itself when not training)."""
    p = kwargs.get("p", args[0] if args else 0.5)
    training = kwargs.get("training", args[1] if len(args) > 1 else True)
    t, x = _first(out).double(), inp.double()
    if not training or p == 0:
        expected_ok = torch.isclose(t, x, rtol=1e-6, atol=1e-6, equal_nan=True)
        return [] if bool(expected_ok.all()) else ["output differs from the input with dropout inactive"]
    if p == 1:
        return [] if bool((t == 0).all()) else ["p=1 must zero every element"]
    kept = torch.isclose(t, x / (1 - p), rtol=_rtol(out, 1e-5), atol=1e-6, equal_nan=True)
    return [] if bool((kept | (t == 0)).all()) else [f"elements neither 0 nor input/(1-p) (p={p})"]


def check_alpha_dropout(out, inp, args, kwargs):
    """Kept elements are a*x + b, dropped ones a*alpha' + b, for the same (a, b) everywhere."""
    p = kwargs.get("p", args[0] if args else 0.5)
    training = kwargs.get("training", args[1] if len(args) > 1 else False)
    t, x = _first(out).double(), inp.double()
    if not training or p == 0:
        return [] if bool(torch.isclose(t, x, rtol=1e-6, atol=1e-6, equal_nan=True).all()) \
            else ["output differs from the input with dropout inactive"]
    if p == 1:
        return _finite(t)
    alpha_p = -1.7580993408473766     # -selu_scale * selu_alpha, as in aten/native/Dropout.cpp
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    # a*x + b cancels: in half precision the error follows the size of the terms, not of the result.
    eps = _rtol(out, 1e-5)
    kept = (t - (a * x + b)).abs() <= eps * ((a * x).abs() + abs(b)) + 1e-5
    dropped = (t - (a * alpha_p + b)).abs() <= eps * (abs(a * alpha_p) + abs(b)) + 1e-5
    return [] if bool((kept | dropped).all()) else [f"elements neither a*x+b nor the dropped value (p={p})"]


def check_rrelu(out, inp, args, kwargs):
    lower = kwargs.get("lower", 1 / 8)
    upper = kwargs.get("upper", 1 / 3)
    training = kwargs.get("training", False)
    t, x = _first(out).double(), inp.double()
    pos = x >= 0
    problems = [] if bool(torch.isclose(t[pos], x[pos], rtol=_rtol(out, 1e-6), atol=1e-6).all()) else \
        ["non-negative inputs must pass unchanged"]
    neg = (x < 0) & (x.abs() > 1e-20)
    slope = t[neg] / x[neg]
    if not training:
        mid = (lower + upper) / 2
        if slope.numel() and not bool(torch.isclose(slope, torch.full_like(slope, mid), rtol=_rtol(out, 1e-4)).all()):
            problems.append(f"eval-mode slope must be (lower+upper)/2 = {mid:.4g}")
    elif slope.numel() and not bool(((slope >= lower - 1e-5) & (slope <= upper + 1e-5)).all()):
        problems.append(f"negative slopes outside [{lower}, {upper}]")
    return problems


def check_fractional_max_pool(out, inp, args, kwargs, spatial=2):
    """Each pooled value is an element of its (batch, channel) input plane."""
    t = _first(out)
    x = inp
    planes_out = t.reshape(-1, *t.shape[-spatial:]).flatten(1) if t.numel() else t
    planes_in = x.reshape(-1, *x.shape[-spatial:]).flatten(1) if x.numel() else x
    if t.numel() == 0:
        return []
    for i in range(planes_out.shape[0]):
        if not bool(torch.isin(planes_out[i], planes_in[i]).all()):
            return [f"plane {i}: pooled values that are not in the input plane"]
    if kwargs.get("return_indices"):
        idx = tree_flatten(out)[0][1].reshape(planes_out.shape[0], -1)
        if not bool((planes_in.gather(1, idx) == planes_out).all()):
            return ["returned indices do not point at the returned values"]
    return []


def check_lstsq(out, inp, args, kwargs):
    """The solution satisfies the normal equations A^H (A X - B) = 0 (any least-squares
    solution does, whichever LAPACK driver or rank handling produced it)."""
    a, b = inp.double(), args[0].double()
    x = tree_flatten(out)[0][0].double()
    if a.numel() == 0 or x.numel() == 0:
        return []
    if b.dim() == a.dim() - 1:
        b, x = b.unsqueeze(-1), x.unsqueeze(-1)
    residual = a.mH @ (a @ x - b)
    scale = (a.norm() ** 2 * x.norm() + a.norm() * b.norm()).item()
    err = residual.norm().item()
    return [] if err <= 1e-4 * max(scale, 1e-30) else [f"normal-equation residual {err:.3g} (scale {scale:.3g})"]


# Composite OpInfos, by OpInfo name (the golden "name" field): the relation to the input is the
# contract, whatever random op they use underneath.
BY_OPINFO = {
    "nn.functional.dropout": check_dropout,
    "nn.functional.dropout2d": check_dropout,
    "nn.functional.dropout3d": check_dropout,
    "nn.functional.alpha_dropout": check_alpha_dropout,
    "nn.functional.feature_alpha_dropout": check_alpha_dropout,
    "nn.functional.rrelu": check_rrelu,
    "nn.functional.fractional_max_pool2d": check_fractional_max_pool,
    "nn.functional.fractional_max_pool3d": functools.update_wrapper(
        functools.partial(check_fractional_max_pool, spatial=3), check_fractional_max_pool),
    "linalg.lstsq": check_lstsq,
}

# Sampling ops, by the aten op the sample reached on CUDA (not the OpInfo name: OpInfo's
# `rand_like` entry calls randn_like).
BY_ATEN = {
    "uniform_": check_uniform,
    "exponential_": check_exponential,
    "geometric_": check_geometric,
    "log_normal_": check_log_normal,
    "cauchy_": check_cauchy,
    "normal_": check_finite,
    "normal": check_finite,
    "randn": check_finite,
    "randn_like": check_finite,
    "rand": check_rand,
    "rand_like": check_rand,
    "randint": check_randint,
    "randint_like": check_randint,
    "bernoulli": check_bernoulli,
    "multinomial": check_multinomial,
}


def choose(name: str, aten: list[str]):
    if name in BY_OPINFO:
        return BY_OPINFO[name]
    for op in aten:
        fn = BY_ATEN.get(op.split(".", 1)[0])
        if fn is not None:
            return fn
    return None


def describe(name: str, aten: list[str]) -> str:
    fn = choose(name, aten)
    doc = (fn.__doc__ or fn.__name__).strip().splitlines()[0] if fn else "values unspecified or random"
    return f"properties: structure, shapes, dtypes; {doc}"


def check(name: str, aten: list[str], out, golden, inp, args, kwargs) -> list[str]:
    problems = _structure(out, golden)
    if problems:
        return problems
    fn = choose(name, aten)
    return fn(out, inp, args, kwargs) if fn else []

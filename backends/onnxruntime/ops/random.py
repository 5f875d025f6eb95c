"""Random ops: uniform_, normal_, exponential_, bernoulli (3 forms), native_dropout (+backward),
randperm.

ONNX's Random* ops take their seed as a node attribute, which would mean one new session per call.
Instead the graph computes a counter-based generator itself: element i gets
hash32(hash32(i ^ seed0) + seed1) (Wellons' "lowbias32" integer hash, in int64 arithmetic kept
below 2^49 so nothing overflows), and the two seeds are graph inputs drawn from the deeplink
device's generator, so torch.manual_seed / get_rng_state make runs reproducible. The stream is
this backend's own: values differ from ATen's CPU (mt19937) or CUDA (Philox) streams, as CUDA's
differ from the CPU's; tests check distributions, not values.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._vendor.execute import Scalar, run
from .common import empty, opmath, run_into
from .registry import FLOATS, INTS, kernel

_M32 = 0xFFFFFFFF


def seeds(generator, device) -> tuple[int, int]:
    """Two 31-bit seeds from the generator that owns `device`'s random stream."""
    if device.type == "cpu":
        gen = generator if generator is not None else torch.default_generator
    else:
        import deeplink
        gen = deeplink._C._inner_generator(generator, device.index or 0)
    s = torch.randint(0, 2 ** 31 - 1, (2,), generator=gen)
    return int(s[0]), int(s[1])


def _mul32(g, x, c: int):
    """(x * c) mod 2^32 for 0 <= x < 2^32, split in 16-bit halves so no product exceeds 2^49."""
    lo = g.op("BitwiseAnd", x, g.const(0xFFFF, torch.int64))
    hi = g.op("Div", x, g.const(1 << 16, torch.int64))
    part_lo = g.op("Mul", lo, g.const(c, torch.int64))
    part_hi = g.op("Mul", g.op("Mul", hi, g.const(c & 0xFFFF, torch.int64)),
                   g.const(1 << 16, torch.int64))
    return g.op("BitwiseAnd", g.op("Add", part_lo, part_hi), g.const(_M32, torch.int64))


def _xorshift(g, x, k: int):
    return g.op("BitwiseXor", x, g.op("Div", x, g.const(1 << k, torch.int64)))


def _hash32(g, x):
    x = _xorshift(g, x, 16)
    x = _mul32(g, x, 0x7FEB352D)
    x = _xorshift(g, x, 15)
    x = _mul32(g, x, 0x846CA68B)
    return _xorshift(g, x, 16)


def random_bits(g, count, seed0, seed1, stream: int = 0):
    """int64 tensor [count] of 32-bit random values; `stream` picks an independent sequence."""
    i = g.op("Range", g.const(0, torch.int64), g.op("Reshape", count, g.ints([])),
             g.const(1, torch.int64))
    if stream:
        i = g.op("Add", i, g.op("Mul", g.op("Reshape", count, g.ints([])),
                                g.const(stream, torch.int64)))
    x = g.op("BitwiseAnd", g.op("BitwiseXor", i, seed0), g.const(_M32, torch.int64))
    x = _hash32(g, x)
    x = g.op("BitwiseAnd", g.op("Add", x, seed1), g.const(_M32, torch.int64))
    return _hash32(g, x)


def uniform01(g, count, seed0, seed1, dtype, stream: int = 0):
    """Uniform [0, 1) in `dtype` (float32: 24 random bits; float64: 53 bits from two draws)."""
    bits = random_bits(g, count, seed0, seed1, 2 * stream)
    if dtype == torch.float64:
        more = random_bits(g, count, seed0, seed1, 2 * stream + 1)
        hi = g.cast(g.op("Div", bits, g.const(1 << 5, torch.int64)), torch.float64)   # 27 bits
        lo = g.cast(g.op("Div", more, g.const(1 << 6, torch.int64)), torch.float64)   # 26 bits
        v = g.op("Add", g.op("Mul", hi, g.const(float(1 << 26), torch.float64)), lo)
        return g.op("Mul", v, g.const(2.0 ** -53, torch.float64))
    top = g.cast(g.op("Div", bits, g.const(1 << 8, torch.int64)), torch.float32)
    return g.op("Mul", top, g.const(2.0 ** -24, torch.float32))


def _count(t):
    return np.asarray([t.numel()], dtype=np.int64)


def _shape(t):
    return np.asarray(t.shape, dtype=np.int64)


def _random_fill(name, self, generator, attrs, extra, lower):
    """self[...] = lower(g, u01, *extra) with u01 uniform in self's opmath dtype."""
    if self.numel() == 0:
        return self
    s0, s1 = seeds(generator, self.device)
    cdt = torch.float64 if self.dtype == torch.float64 else torch.float32

    def build(g, n, shape, a, b, *xs):
        return lower(g, lambda stream=0: g.op("Reshape", uniform01(g, n, a, b, cdt, stream),
                                              shape), *xs)
    return run_into(self, name, attrs, [_count(self), _shape(self), Scalar(s0, torch.int64),
                                        Scalar(s1, torch.int64)] + list(extra), build)


@kernel("uniform_.default", dtypes=FLOATS, impl="onnx:hash RNG")
def uniform_(self, from_=0.0, to=1.0, *, generator=None):
    if from_ > to:  # ATen's own check (its meta kernel does not make it)
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    cdt = torch.float64 if self.dtype == torch.float64 else torch.float32
    return _random_fill("uniform_", self, generator, (), [Scalar(float(from_), cdt),
                                                          Scalar(float(to), cdt)],
                        lambda g, u, lo, hi: g.op("Add", g.op("Mul", u(), g.op("Sub", hi, lo)),
                                                  lo))


@kernel("normal_.default", dtypes=FLOATS, impl="onnx:hash RNG, Box-Muller")
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    cdt = torch.float64 if self.dtype == torch.float64 else torch.float32

    def lower(g, u, m, s):
        u1 = g.op("Sub", g.const(1.0, cdt), u(0))             # (0, 1]: log is finite
        r = g.op("Sqrt", g.op("Mul", g.const(-2.0, cdt), g.op("Log", u1)))
        z = g.op("Mul", r, g.op("Cos", g.op("Mul", g.const(2 * math.pi, cdt), u(1))))
        return g.op("Add", g.op("Mul", z, s), m)
    return _random_fill("normal_", self, generator, (), [Scalar(float(mean), cdt),
                                                         Scalar(float(std), cdt)], lower)


@kernel("exponential_.default", dtypes=FLOATS, impl="onnx:hash RNG")
def exponential_(self, lambd=1.0, *, generator=None):
    cdt = torch.float64 if self.dtype == torch.float64 else torch.float32

    def lower(g, u, lam):
        one_minus = g.op("Sub", g.const(1.0, cdt), u())
        return g.op("Div", g.op("Neg", g.op("Log", one_minus)), lam)
    return _random_fill("exponential_", self, generator, (), [Scalar(float(lambd), cdt)], lower)


def _bernoulli_into(out, p, generator):
    """out = (u < p) in out's dtype; p a number or a tensor broadcastable to out."""
    cdt = torch.float64 if (isinstance(p, torch.Tensor) and p.dtype == torch.float64) else \
        torch.float32
    p_in = p if isinstance(p, torch.Tensor) else Scalar(float(p), cdt)
    return _random_fill("bernoulli", out, generator, (isinstance(p, torch.Tensor),), [p_in],
                        lambda g, u, pv: g.cast(g.op("Less", u(), g.cast(pv, cdt)), out.dtype))


@kernel("bernoulli_.float", dtypes=FLOATS | INTS | frozenset({torch.bool}), impl="onnx:hash RNG")
def bernoulli_float_(self, p=0.5, *, generator=None):
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _bernoulli_into(self, p, generator)


@kernel("bernoulli_.Tensor", dtypes=FLOATS | INTS | frozenset({torch.bool}), impl="onnx:hash RNG")
def bernoulli_tensor_(self, p, *, generator=None):
    return _bernoulli_into(self, p, generator)


@kernel("bernoulli.default", dtypes=FLOATS, impl="onnx:hash RNG")
def bernoulli(self, *, generator=None):
    return _bernoulli_into(empty(self.shape, self.dtype, self.device), self, generator)


@kernel("bernoulli.p", dtypes=FLOATS, impl="onnx:hash RNG")
def bernoulli_p(self, p, *, generator=None):
    return _bernoulli_into(empty(self.shape, self.dtype, self.device), p, generator)


@kernel("native_dropout.default", dtypes=FLOATS, impl="onnx:hash RNG, Mul")
def native_dropout(input, p, train):
    """ATen: in training, mask ~ Bernoulli(1 - p) and output = input * mask / (1 - p) (0 when
    p == 1); otherwise output is a copy and the mask all True."""
    out = empty(input.shape, input.dtype, input.device)
    mask = empty(input.shape, torch.bool, input.device)
    if input.numel() == 0:
        return out, mask
    cdt = opmath(input.dtype)
    if train is False:
        run("dropout.eval", (), [input], [out, mask],
            lambda g, x: [g.op("Identity", x), g.fill(g.op("Shape", x), True, torch.bool)])
        return out, mask
    keep = 1.0 - p
    scale = 0.0 if keep == 0 else 1.0 / keep
    s0, s1 = seeds(None, input.device)

    def build(g, x, n, shape, a, b, k, sc):
        u = g.op("Reshape", uniform01(g, n, a, b, torch.float32), shape)
        m = g.op("Less", u, k)
        y = g.op("Mul", g.op("Mul", g.cast(x, cdt), g.cast(m, cdt)), sc)
        return [y, m]
    run("dropout", (), [input, _count(input), _shape(input), Scalar(s0, torch.int64),
                        Scalar(s1, torch.int64), Scalar(float(keep), torch.float32),
                        Scalar(float(scale), cdt)], [out, mask], build)
    return out, mask


@kernel("native_dropout_backward.default", dtypes=FLOATS | frozenset({torch.bool}),
        impl="onnx:Mul")
def native_dropout_backward(grad_output, mask, scale):
    cdt = opmath(grad_output.dtype)
    out = empty(torch.broadcast_shapes(grad_output.shape, mask.shape), grad_output.dtype,
                grad_output.device)
    run("dropout_backward", (), [grad_output, mask, Scalar(float(scale), cdt)], [out],
        lambda g, gy, m, s: g.op("Mul", g.op("Mul", g.cast(gy, cdt), g.cast(m, cdt)), s))
    return out


@kernel("randperm.default", dtypes=INTS | FLOATS, impl="onnx:hash RNG, TopK")
def randperm(n, *, dtype=None, layout=None, device=None, pin_memory=None):
    return randperm_generator(n, generator=None, dtype=dtype, device=device)


@kernel("randperm.generator", dtypes=INTS | FLOATS, impl="onnx:hash RNG, TopK")
def randperm_generator(n, *, generator=None, dtype=None, layout=None, device=None,
                       pin_memory=None):
    """A permutation as the order of n random 32-bit keys (TopK is stable, so the rare equal
    keys still give a valid permutation)."""
    dtype = dtype or torch.int64
    device = torch.device(device) if device is not None else torch.device("cpu")
    out = torch.empty((n,), dtype=dtype, device=device)
    if n == 0:
        return out
    s0, s1 = seeds(generator, device)
    count = np.asarray([n], dtype=np.int64)

    def build(g, c, a, b):
        keys = random_bits(g, c, a, b)
        _, idx = g.op("TopK", keys, c, outputs=2, axis=0, largest=0, sorted=1)
        return g.cast(idx, dtype)
    return run_into(out, "randperm", (), [count, Scalar(s0, torch.int64),
                                          Scalar(s1, torch.int64)], build)

"""Per-op results of the onnxruntime backend against ATen on the CPU.

Each case calls one aten overload on deeplink tensors with the onnxruntime backend active and
DEEPLINK_FALLBACK=error (a call that is not native raises), checks the dispatcher counted it as
native, and compares every output (and in-place update) with the same overload run by ATen on
CPU copies of the inputs. Float cases run in float32, float16 and bfloat16: ORT's CPU EP has no
bf16 arithmetic kernels and only some fp16 ones, so the backend computes both in float32 inside
the graph (ATen's opmath rule); tolerances are one rounding in the reduced dtype.
"""
from __future__ import annotations

import math

import pytest
import torch

from test_onnxruntime_helpers import BF16, F16, F32, aten, on_onnxruntime, tolerance

import deeplink
from deeplink.opset.names import exists, has_kernel

FP = (F32, F16, BF16)
I64 = torch.int64


def r(*shape, dtype=F32, lo=None):
    x = torch.randn(*shape)
    if lo is not None:
        x = x.abs() + lo
    return x.to(dtype)


def ids(n, *shape):
    return torch.randint(0, n, shape)


# (overload, builder(dtype) -> (args, kwargs), dtypes)
CASES = [
    ("add.Tensor", lambda d: ((r(3, 4, dtype=d), r(4, dtype=d)), {"alpha": 2}), FP),
    ("add.Tensor", lambda d: ((ids(9, 5), torch.tensor(2.5)), {}), (I64,)),   # int + number
    ("add.Scalar", lambda d: ((r(3, 4, dtype=d), 1.5), {}), FP),
    ("add_.Tensor", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d)), {}), FP),
    ("sub.Tensor", lambda d: ((r(2, 3, dtype=d), r(2, 1, dtype=d)), {"alpha": 0.5}), FP),
    ("mul.Tensor", lambda d: ((r(2, 3, 4, dtype=d), r(3, 1, dtype=d)), {}), FP),
    ("mul.Scalar", lambda d: ((r(5, dtype=d), 0.125), {}), FP),
    ("div.Tensor", lambda d: ((r(4, 4, dtype=d), r(4, 4, dtype=d, lo=0.5)), {}), FP),
    ("div.Tensor", lambda d: ((ids(20, 6), ids(5, 6) + 1), {}), (I64,)),
    ("div.Scalar", lambda d: ((r(4, 4, dtype=d), 3.0), {}), FP),
    ("div.Tensor_mode", lambda d: ((r(50, dtype=d) * 9, r(50, dtype=d, lo=0.2)),
                                   {"rounding_mode": "floor"}), (F32,)),
    ("div.Tensor_mode", lambda d: ((ids(40, 30) - 20, ids(7, 30) + 1), {"rounding_mode": "floor"}),
     (I64,)),
    ("div.Tensor_mode", lambda d: ((ids(40, 30) - 20, -ids(7, 30) - 1),
                                   {"rounding_mode": "trunc"}), (I64,)),
    ("remainder.Tensor", lambda d: ((r(30, dtype=d) * 5, r(30, dtype=d, lo=0.3)), {}), (F32,)),
    ("neg", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("rsqrt", lambda d: ((r(3, 4, dtype=d, lo=0.1),), {}), FP),
    ("sqrt", lambda d: ((r(3, 4, dtype=d, lo=0.0),), {}), FP),
    ("exp", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("log", lambda d: ((r(3, 4, dtype=d, lo=0.1),), {}), FP),
    ("sin", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("cos", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("tanh", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("sigmoid", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("erf", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("expm1", lambda d: ((r(64, dtype=d) * 1e-4,), {}), (F32,)),      # accurate near 0
    ("log1p", lambda d: ((r(64, dtype=d, lo=0) * 1e-5,), {}), (F32,)),
    ("abs", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("silu", lambda d: ((r(3, 4, dtype=d),), {}), FP),
    ("silu_backward", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d)), {}), FP),
    ("tanh_backward", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d).tanh()), {}), FP),
    ("gelu", lambda d: ((r(3, 4, dtype=d),), {"approximate": "none"}), FP),
    ("gelu", lambda d: ((r(3, 4, dtype=d),), {"approximate": "tanh"}), FP),
    ("gelu_backward", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d)), {"approximate": "tanh"}),
     FP),
    ("gelu_backward", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d)), {}), FP),
    ("pow.Tensor_Scalar", lambda d: ((r(3, 4, dtype=d), 2), {}), FP),
    ("pow.Tensor_Scalar", lambda d: ((r(3, 4, dtype=d, lo=0.1), 0.37), {}), FP),
    ("pow.Tensor_Scalar", lambda d: ((ids(9, 6) - 4, 5), {}), (I64,)),
    ("pow.Tensor_Tensor", lambda d: ((ids(9, 6) - 4, ids(4, 6)), {}), (I64,)),
    ("maximum", lambda d: ((torch.tensor([1.0, float("nan"), 3.0]).to(d),
                            torch.tensor([2.0, 0.0, float("nan")]).to(d)), {}), FP),
    ("atan2", lambda d: ((r(20, dtype=d), r(20, dtype=d)), {}), (F32,)),
    ("copysign.Tensor", lambda d: ((r(20, dtype=d), r(20, dtype=d)), {}), FP),
    ("clamp", lambda d: ((r(4, 5, dtype=d), -0.5, 0.5), {}), FP),
    ("where.self", lambda d: ((r(3, 4) > 0, r(3, 4, dtype=d), r(4, dtype=d)), {}), FP),
    ("masked_fill.Scalar", lambda d: ((r(3, 4, dtype=d), r(3, 4) > 0, -1e4), {}), FP),
    ("eq.Scalar", lambda d: ((torch.tensor([0, 255, 3], dtype=torch.uint8), -1), {}),
     (torch.uint8,)),                                                   # -1 wraps to 255
    ("lt.Tensor", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d)), {}), FP),
    ("logical_and", lambda d: ((r(6) > 0, r(6) > 0), {}), (torch.bool,)),
    ("lerp_.Scalar", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d), 0.1), {}), FP),
    ("addcmul_", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d), r(3, 4, dtype=d)),
                            {"value": 0.2}), FP),
    ("addcdiv_", lambda d: ((r(3, 4, dtype=d), r(3, 4, dtype=d), r(3, 4, dtype=d, lo=1)),
                            {"value": -0.1}), FP),
    # reductions
    ("sum.dim_IntList", lambda d: ((r(3, 4, 5, dtype=d), [0, 2], True), {}), FP),
    ("sum.dim_IntList", lambda d: ((ids(5, 3, 4), [1]), {}), (I64,)),
    ("sum.dim_IntList", lambda d: ((r(3, 4, dtype=d), None), {"dtype": F32}), FP),
    ("mean.dim", lambda d: ((r(3, 4, 5, dtype=d), [-1], True), {}), FP),
    ("amax", lambda d: ((r(3, 4, dtype=d), [1]), {}), FP),
    ("max.dim", lambda d: ((torch.tensor([[1.0, 3.0, 3.0], [2.0, float("nan"), 0.0]]).to(d), 1),
                           {}), FP),
    ("argmax", lambda d: ((r(3, 7, dtype=d), 1), {}), FP),
    ("var.correction", lambda d: ((r(4, 6, dtype=d), [1]), {"correction": 1}), FP),
    ("cumsum", lambda d: ((r(3, 5, dtype=d), 1), {}), (F32,)),
    ("logsumexp", lambda d: ((r(3, 5, dtype=d), [1]), {}), FP),
    ("any.dim", lambda d: ((r(3, 5) > 1, 1), {}), (torch.bool,)),
    # softmax family
    ("_softmax", lambda d: ((r(3, 7, dtype=d), -1, False), {}), FP),
    ("_log_softmax", lambda d: ((r(3, 7, dtype=d), 1, False), {}), (F32, F16)),
    ("_softmax_backward_data", lambda d: ((r(3, 7, dtype=d), r(3, 7).softmax(-1).to(d), -1, d),
                                          {}), FP),
    ("_log_softmax_backward_data", lambda d: ((r(3, 7, dtype=d),
                                               r(3, 7).log_softmax(-1).to(d), -1, d), {}), FP),
    ("_safe_softmax", lambda d: ((torch.tensor([[0.5, 1.0, -1.0],
                                                [-math.inf, -math.inf, -math.inf]]).to(d), -1),
                                 {}), FP),
    # matrix products (mat2 transposed: bound as its storage + Transpose node)
    ("mm", lambda d: ((r(5, 6, dtype=d), r(7, 6, dtype=d).t()), {}), FP),
    ("bmm", lambda d: ((r(2, 3, 4, dtype=d), r(2, 4, 5, dtype=d)), {}), FP),
    ("addmm", lambda d: ((r(5, dtype=d), r(3, 4, dtype=d), r(4, 5, dtype=d)),
                         {"beta": 0.5, "alpha": 2.0}), FP),
    ("baddbmm", lambda d: ((r(2, 3, 5, dtype=d), r(2, 3, 4, dtype=d), r(2, 4, 5, dtype=d)),
                           {"beta": 0.0}), (F32,)),
    # normalization
    ("native_layer_norm", lambda d: ((r(2, 3, 8, dtype=d), [8], r(8, dtype=d), r(8, dtype=d),
                                      1e-5), {}), FP),
    ("native_layer_norm_backward", lambda d: _layer_norm_backward_args(d), FP),
    ("native_group_norm", lambda d: ((r(2, 6, 5, dtype=d), r(6, dtype=d), r(6, dtype=d), 2, 6, 5,
                                      3, 1e-5), {}), (F32,)),
    ("_native_batch_norm_legit", lambda d: ((r(4, 3, 5), r(3), r(3), torch.zeros(3),
                                             torch.ones(3), True, 0.1, 1e-5), {}), (F32,)),
    # indexing / embedding / losses
    ("embedding", lambda d: ((r(10, 4, dtype=d), ids(10, 2, 3)), {}), FP),
    ("embedding_dense_backward", lambda d: ((r(2, 3, 4, dtype=d), torch.tensor([[1, 2, 1],
                                                                               [0, 1, 9]]),
                                             10, 1, False), {}), (F32,)),
    ("nll_loss_forward", lambda d: ((r(4, 5, dtype=d).log_softmax(1), torch.tensor([1, 0, -100,
                                                                                    4]),
                                     None, 1, -100), {}), FP),
    ("nll_loss_forward", lambda d: ((r(4, 5).log_softmax(1), torch.tensor([1, 0, 2, 4]), r(5).abs(),
                                     0, -100), {}), (F32,)),
    ("nll_loss_backward", lambda d: ((torch.tensor(1.5), r(4, 5), torch.tensor([1, 0, -100, 4]),
                                      None, 1, -100, torch.tensor(3.0)), {}), (F32,)),
    ("gather", lambda d: ((r(3, 4, dtype=d), 1, ids(4, 3, 2)), {}), FP),
    ("index_select", lambda d: ((r(5, 4, dtype=d), 0, torch.tensor([4, 0, 0, 2])), {}), FP),
    ("scatter_add", lambda d: ((r(3, 5), 1, ids(5, 3, 4), r(3, 4)), {}), (F32,)),
    ("index.Tensor", lambda d: ((r(4, 5, 6, dtype=d), [None, torch.tensor([0, 4, 1]),
                                                       torch.tensor([5, 0, 2])]), {}), FP),
    ("index_put", lambda d: ((r(5, 3), [torch.tensor([0, 2, 0])], r(3, 3), True), {}), (F32,)),
    ("cat", lambda d: (([r(2, 3, dtype=d), r(1, 3, dtype=d), torch.empty(0)], 0), {}), FP),
    ("constant_pad_nd", lambda d: ((r(2, 3, 4, dtype=d), [1, 2, -1, 1], 0.5), {}), FP),
    ("slice_backward", lambda d: ((r(2, 3, dtype=d), [2, 8], 1, 1, 7, 2), {}), FP),
    ("tril", lambda d: ((r(4, 5, dtype=d), 1), {}), FP),
    ("sort", lambda d: ((r(3, 9, dtype=d), 1, True), {}), (F32,)),
    ("topk", lambda d: ((r(3, 9, dtype=d), 4), {}), (F32,)),
    ("nonzero", lambda d: ((r(4, 5) > 0.3,), {}), (torch.bool,)),
    ("reflection_pad2d", lambda d: ((r(1, 2, 4, 5, dtype=d), [1, 2, 3, 0]), {}), (F32,)),
    # creation / copies
    ("arange.start_step", lambda d: ((0, 10, 3), {"device": "deeplink"}), (I64,)),
    ("arange.start_step", lambda d: ((0.5, 2.0, 0.25), {"dtype": d, "device": "deeplink"}), FP),
    ("zeros", lambda d: (([2, 3],), {"dtype": d, "device": "deeplink"}), FP),
    ("ones_like", lambda d: ((r(2, 3, dtype=d),), {}), FP),
    ("fill_.Scalar", lambda d: ((r(2, 3, dtype=d), 0.1), {}), FP),
    ("clone", lambda d: ((r(4, 6, dtype=d)[:, 1::2].t(),), {}), FP),
]


def _layer_norm_backward_args(d):
    x, w, b = r(2, 3, 8), r(8), r(8)
    _, mean, rstd = torch.ops.aten.native_layer_norm(x, [8], w, b, 1e-5)
    return ((r(2, 3, 8, dtype=d), x.to(d), [8], mean.to(d), rstd.to(d), w.to(d), b.to(d),
             [True, True, True]), {})


def _to(x, device):
    if isinstance(x, torch.Tensor):
        return x.clone() if device == "cpu" else x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    return x


def _flat(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat(v)]
    return [x]


def _compare(got, want, dtype, what):
    for g, w in zip(_flat(got), _flat(want)):
        if isinstance(w, torch.Tensor):
            assert isinstance(g, torch.Tensor) and g.device.type == "deeplink", what
            g = g.cpu()
            assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: {g.dtype}{tuple(g.shape)}" \
                f" vs ATen {w.dtype}{tuple(w.shape)}"
            torch.testing.assert_close(g, w, equal_nan=True, msg=lambda m: f"{what}: {m}",
                                       **tolerance(dtype if w.dtype.is_floating_point else w.dtype))
        elif w is not None:
            assert g == w, what


def _case_id(case):
    name, _, dtypes = case
    return name


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_op_matches_aten_on_cpu(case):
    name, build, dtypes = case
    for dtype in dtypes:
        torch.manual_seed(0)
        args, kwargs = build(dtype)
        cpu_args = _to(args, "cpu")
        cpu_kwargs = {k: ("cpu" if k == "device" else v) for k, v in kwargs.items()}
        want = aten(name)(*cpu_args, **cpu_kwargs)
        with on_onnxruntime("error"):
            dev_args = _to(args, "deeplink")
            deeplink.reset_op_stats()
            got = aten(name)(*dev_args, **kwargs)
            stats = deeplink.op_stats()
            # CompositeImplicitAutograd ops (silu_backward) decompose above the dispatcher on
            # deeplink as on CUDA; fallback mode "error" already proved their pieces native.
            assert has_kernel(name, "CompositeImplicitAutograd") or stats.get(name, {}).get("native", 0) >= 1, \
                f"{name} did not run as a native kernel: {stats}"
            _compare(got, want, dtype, f"{name} [{dtype}]")
            if name.endswith("_") or "_." in name:     # in-place: the mutated input too
                _compare(dev_args[0], cpu_args[0], dtype, f"{name} [{dtype}] self")


def test_every_registered_overload_exists_in_this_torch():
    from deeplink.backends.onnxruntime.ops import TABLE as KERNELS
    assert len(KERNELS) > 300
    for name in KERNELS:
        assert exists(name), name

"""How the onnxruntime backend executes: graphs are cached per (op, dtypes, ranks, layouts,
attributes); IO binding makes ORT read and write deeplink memory in place (no copies per call);
permuted/broadcast inputs are bound as their storage with the view rebuilt in the graph."""
from __future__ import annotations

import numpy as np
import torch

from test_onnxruntime_helpers import on_onnxruntime

import deeplink
from deeplink.backends.onnxruntime import reset_stats, stats
from deeplink.backends.onnxruntime._vendor.execute import LAYOUT_STATS, run
from deeplink.backends.onnxruntime._vendor.session_cache import CACHE


def test_graph_is_built_once_per_rank_and_dtype_not_per_shape():
    with on_onnxruntime():
        a, b, c = (torch.randn(*s, device="deeplink") for s in ((3, 4), (5, 7), (2, 2)))
        d = torch.randn(2, 2, 2, device="deeplink")
        e = torch.randn(2, 2, device="deeplink", dtype=torch.float64)
        reset_stats()
        torch.exp(a)
        first = stats()
        torch.exp(b)                                       # other shape, same rank: a hit
        torch.exp(c)
        second = stats()
        assert second["misses"] == first["misses"]
        assert second["hits"] >= first["hits"] + 2
        torch.exp(d)                                       # new rank: a new graph
        torch.exp(e)                                       # new dtype: a new graph
        assert stats()["misses"] == second["misses"] + 2


def test_changing_numbers_reuse_the_graph():
    """Python numbers are graph inputs: an optimizer's changing learning rate builds nothing."""
    with on_onnxruntime():
        x = torch.randn(8, device="deeplink")
        x.mul_(0.5)
        before = stats()["misses"]
        for lr in (0.1, 0.01, 1e-3, 3e-4):
            x.mul_(1 - lr)
        assert stats()["misses"] == before


def test_output_is_written_in_place_into_deeplink_memory():
    """IO binding: the output OrtValue is the preallocated deeplink buffer itself."""
    with on_onnxruntime():
        rt = deeplink._registry.get("onnxruntime").backend.runtime()
        x = torch.randn(64, device="deeplink")
        out = torch.empty(64, device="deeplink")
        address = out.data_ptr()
        copies = []
        original = rt.memcpy
        rt.memcpy = lambda *a: (copies.append(a), original(*a))[1]
        try:
            run("test.neg", (), [x], [out], lambda g, v: g.op("Neg", v))
            y = x.add_(1.0)                               # in-place: output bound to x itself
        finally:
            rt.memcpy = original
        assert out.data_ptr() == address and y is x
        assert copies == []                                # no runtime copy for either op
        torch.testing.assert_close(deeplink.host_view(out), -deeplink.host_view(x) + 1.0)


def test_output_binding_aliases_a_host_tensor_too():
    """The execution layer works on any host-memory tensor: ORT writes the buffer we bound."""
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    out = torch.full((2, 3), -1.0)
    run("test.mul2", (), [x, np.asarray(2.0, dtype=np.float32)], [out],
        lambda g, a, two: g.op("Mul", a, two))
    assert torch.equal(out, x * 2)


def test_transposed_input_is_bound_without_a_copy():
    with on_onnxruntime():
        reset_stats()
        w = torch.randn(6, 4, device="deeplink")
        x = torch.randn(3, 4, device="deeplink")
        deeplink.reset_op_stats()
        y = x @ w.t()                                      # mm(x, w.t()): a permuted view
        st = stats()
        assert st["in_graph_views"] >= 1 and st["contiguous_copies"] == 0
        assert "clone" not in deeplink.op_stats()
        torch.testing.assert_close(y.cpu(), x.cpu() @ w.cpu().t())


def test_gapped_view_is_made_contiguous_by_a_dispatched_clone():
    with on_onnxruntime():
        reset_stats()
        base = torch.randn(4, 8, device="deeplink")
        view = base[:, ::2]                                # gaps: not a permutation of a block
        deeplink.reset_op_stats()
        y = torch.exp(view)
        assert stats()["contiguous_copies"] == 1
        assert deeplink.op_stats()["clone"]["native"] == 1   # counted: it ran on the backend
        torch.testing.assert_close(y.cpu(), base.cpu()[:, ::2].exp())


def test_strided_in_place_update_writes_only_the_view():
    with on_onnxruntime():
        base = torch.zeros(4, 6, device="deeplink")
        base[:, 1::2].add_(torch.ones(4, 3, device="deeplink"))
        want = torch.zeros(4, 6)
        want[:, 1::2] += 1
        assert torch.equal(base.cpu(), want)


def test_layout_kernels_on_views_of_every_kind():
    from deeplink.backends.onnxruntime._vendor.layout import gather_into, scatter_from
    a = torch.randn(5, 6, 7)
    for view in (a.transpose(0, 2), a[1:, ::2, 3:], a[0, 0].expand(4, 7), a.permute(2, 0, 1)[::3],
                 a.diagonal(dim1=1, dim2=2), a[2, 3, 4]):
        out = torch.empty(view.shape)
        assert torch.equal(gather_into(out, view), view)
        target = torch.zeros(5, 6, 7)
        dst = target.transpose(0, 1)[:, 1:4]
        src = torch.randn(dst.shape)
        scatter_from(dst, src)
        want = torch.zeros(5, 6, 7)
        want.transpose(0, 1)[:, 1:4] = src
        assert torch.equal(target, want)
    LAYOUT_STATS.reset()


def test_cache_keys_include_providers_and_are_dropped_on_change(monkeypatch):
    from deeplink.backends.onnxruntime import set_providers
    x = torch.randn(4)
    out = torch.empty(4)
    run("test.abs", (), [x], [out], lambda g, v: g.op("Abs", v))
    assert len(CACHE) >= 1
    set_providers(["CPUExecutionProvider"])
    try:
        assert len(CACHE) == 0                             # sessions of the old EP list dropped
    finally:
        set_providers(None)


def test_copy_kernels_convert_dtypes_and_layouts_like_aten():
    """ops/copy.py's _to_copy and copy_ (on host tensors: not yet offered to the dispatcher,
    see docs/backends/onnxruntime.md) match ATen, including float -> uint8 wrapping and strided targets."""
    from test_onnxruntime_helpers import kernel
    a = torch.randn(4, 6, 5) * 100
    for view in (a, a.transpose(0, 2), a[:, ::2], a[0, 0].expand(3, 5)):
        for dtype in (torch.float16, torch.bfloat16, torch.int32, torch.uint8, torch.bool):
            assert torch.equal(kernel("_to_copy")(view, dtype=dtype), view.to(dtype)), dtype
    target, want = torch.zeros(6, 4, 5), torch.zeros(6, 4, 5)
    src = torch.randn(3, 4, 5).to(torch.float16)
    kernel("copy_")(target[::2], src)
    want[::2].copy_(src)
    assert torch.equal(target, want)
    assert kernel("_to_copy")(torch.tensor([-1.5, 300.7]), dtype=torch.uint8).tolist() == \
        torch.tensor([-1.5, 300.7]).to(torch.uint8).tolist()

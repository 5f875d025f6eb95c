"""C kernels (deeplink.ckernel) on views that start past their storage's first element, empty ones
included: `x[6:]` of a 6-element tensor has no elements and a storage offset of 6, and used to
fail with OverflowError before the kernel ran."""
from __future__ import annotations

import pytest
import torch

import deeplink


@pytest.fixture
def on_c_add(test_kernels):
    from deeplink.ckernel import CKernel
    from plugins.hostbackend import ensure
    ensure("ckernel-views", lambda: {"add.Tensor": CKernel(test_kernels, "t_add", "add.Tensor",
                                                           "out, self, other, double alpha")})
    previous = deeplink.current_backend()
    deeplink.use("ckernel-views")
    deeplink.set_fallback_mode("error")  # the C kernel must run, not a fallback
    yield
    deeplink.set_fallback_mode("warn")
    deeplink.use(previous)


@pytest.mark.parametrize("view", ["[6:]", "[3:3]", "[2:]", "[::2]", "[5:]", "[:0]"])
def test_views_with_offsets(on_c_add, view):
    x = torch.arange(6.0).to("deeplink")
    y = torch.arange(6.0) * 10
    a, b = eval(f"x{view}"), eval(f"y{view}").to("deeplink")
    got = a + b
    torch.testing.assert_close(got.cpu(), eval(f"torch.arange(6.0){view}") + eval(f"y{view}"))
    assert deeplink.op_stats()["add.Tensor"]["fallback"] == 0


def test_empty_view_of_empty_storage(on_c_add):
    e = torch.empty(0).to("deeplink")
    assert (e + e).shape == (0,)

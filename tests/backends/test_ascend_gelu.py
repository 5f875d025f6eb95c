"""GELU on the emulated Ascend backend matches ATen on the CPU in both approximate modes.

CANN's aclnnGelu is the tanh approximation (its operator doc gives the tanh formula), so the exact
GELU (approximate='none') must not go to it; the backend calls aclnnGeluV2(x, approximate, y) with
approximate 0 (none) or 1 (tanh) and aclnnGeluBackwardV2(gradOutput, self, approximate, gradInput)
whose approximate is a string ("none" / "tanh"). The emulator reproduces that documented behaviour
(tests/ascend_emulator/ops_elementwise.cpp, ops_nn.cpp). Verified against the emulator only.
"""
from __future__ import annotations

import pytest
import torch

from test_ascend_helpers import close, on_ascend, settle_and_check_clean

aten = torch.ops.aten
# Values where the tanh form and the exact form differ by far more than float32 tolerance.
X = torch.linspace(-4.0, 4.0, 97).reshape(1, 97)


def test_the_two_gelu_forms_really_differ_on_these_inputs():
    gap = (torch.nn.functional.gelu(X) - torch.nn.functional.gelu(X, approximate="tanh")).abs().max()
    assert gap > 1e-4


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gelu_forward_matches_cpu(approximate, dtype):
    x = X.to(dtype)
    with on_ascend(fallback="error"):
        got = aten.gelu(x.to("deeplink"), approximate=approximate).cpu()
    close(got, aten.gelu(x, approximate=approximate), dtype)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_matches_cpu(approximate):
    g = torch.linspace(-1.0, 1.0, 97).reshape(1, 97)
    with on_ascend(fallback="error"):
        got = aten.gelu_backward(g.to("deeplink"), X.to("deeplink"), approximate=approximate).cpu()
    close(got, aten.gelu_backward(g, X, approximate=approximate))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_autograd_matches_cpu(approximate):
    x = X.clone().requires_grad_()
    torch.nn.functional.gelu(x, approximate=approximate).sum().backward()
    with on_ascend(fallback="error"):
        xd = X.to("deeplink").requires_grad_()
        y = torch.nn.functional.gelu(xd, approximate=approximate)
        y.sum().backward()
        close(y.detach().cpu(), torch.nn.functional.gelu(X, approximate=approximate))
        close(xd.grad.cpu(), x.grad)
        settle_and_check_clean()

"""deeplink's own decompositions (deeplink/decompositions/selection.py, statistics.py) compute what
ATen's kernels compute, and run on a backend that lacks the op (onnxruntime: no histogram, no
data-dependent selection, no weight-norm gradient) with DEEPLINK_FALLBACK=error."""
import pytest
import torch

import deeplink
from backend_scope import on_backend
from deeplink.decompositions.selection import histc, masked_select
from deeplink.decompositions.statistics import var, var_mean, weight_norm_interface_backward

g = torch.Generator().manual_seed(0)


@pytest.mark.parametrize("bins,lo,hi", [(10, -1.0, 1.0), (7, 0, 0), (3, 5.0, 5.0), (4, -0.25, 2.5)])
def test_histc_matches_aten(bins, lo, hi):
    x = torch.randn(200, generator=g) * 2
    x[:2] = torch.tensor([hi, lo])  # max falls in the last bin, min in the first
    if lo != hi:
        x[2] = float("nan")  # ignored (with min == max, ATen refuses a NaN range)
    torch.testing.assert_close(histc(x, bins, lo, hi), torch.histc(x, bins, lo, hi))


def test_histc_refuses_what_aten_refuses():
    for x, lo, hi in [(torch.tensor([1.0, float("nan")]), 0, 0), (torch.ones(3), 2.0, 1.0)]:
        with pytest.raises(RuntimeError) as aten_error:
            torch.histc(x, 4, lo, hi)
        with pytest.raises(RuntimeError, match=str(aten_error.value).split(" ")[1]):
            histc(x, 4, lo, hi)


def test_histc_of_integers_counts_exactly():
    experts = torch.randint(0, 6, (300,), generator=g)
    assert torch.equal(histc(experts, 6, 0, 5), torch.histc(experts.double(), 6, 0, 5).long())


def test_masked_select_broadcasts_like_aten():
    x, mask = torch.randn(3, 4, generator=g), torch.rand(4, generator=g) > 0.5
    assert torch.equal(masked_select(x, mask), torch.masked_select(x, mask))
    assert masked_select(x, torch.zeros(3, 4, dtype=torch.bool)).shape == (0,)


@pytest.mark.parametrize("dim,correction,keepdim", [(None, None, False), ([1], 0, True), ([0, 2], 1, False),
                                                     (2, 2.5, True), ([], None, False)])
def test_var_and_var_mean_match_aten(dim, correction, keepdim):
    x = torch.randn(4, 5, 6, generator=g, dtype=torch.float64)
    expected_v, expected_m = torch.var_mean(x, dim, correction=correction, keepdim=keepdim)
    v, m = var_mean(x, dim, correction=correction, keepdim=keepdim)
    torch.testing.assert_close(v, expected_v)
    torch.testing.assert_close(m, expected_m)
    torch.testing.assert_close(var(x, dim, correction=correction, keepdim=keepdim),
                               torch.var(x, dim, correction=correction, keepdim=keepdim))


def test_var_of_complex_values_is_real():
    z = torch.randn(8, 3, dtype=torch.complex128, generator=g)
    torch.testing.assert_close(var(z, [0]), torch.var(z, [0]))


@pytest.mark.parametrize("dim", [0, 2])
def test_weight_norm_gradient_matches_autograd(dim):
    v = torch.randn(4, 3, 5, dtype=torch.float64, generator=g, requires_grad=True)
    gain = torch.randn([4, 1, 1] if dim == 0 else [1, 1, 5], dtype=torch.float64, generator=g, requires_grad=True)
    w, norms = torch._weight_norm_interface(v, gain, dim)
    grad_w = torch.randn_like(w)
    expected = torch.autograd.grad(w, (v, gain), grad_w)
    got = weight_norm_interface_backward(grad_w, v.detach(), gain.detach(), norms, dim)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


@pytest.fixture
def onnxruntime_no_fallback():
    pytest.importorskip("onnxruntime")
    with on_backend("onnxruntime"):
        yield


def test_decomposed_on_a_backend_without_the_ops(onnxruntime_no_fallback):
    assert {op: deeplink.route_of(op, "onnxruntime") for op in ("histc", "masked_select")} == \
        {"histc": "decomposed", "masked_select": "decomposed"}
    experts = torch.randint(0, 4, (32,), generator=g)
    expected = torch.histc(experts.double(), 4, 0, 3).long()
    assert torch.equal(torch.histc(experts.to("deeplink"), 4, 0, 3).cpu(), expected)
    x = torch.randn(5, 6, generator=g)
    assert torch.equal(torch.masked_select(x.to("deeplink"), (x > 0).to("deeplink")).cpu(), x[x > 0])
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 4, 3), dim=2)
    conv_d = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 4, 3), dim=2)
    conv_d.load_state_dict(conv.state_dict())
    conv_d.to("deeplink")
    inp = torch.randn(2, 3, 8, generator=g)
    conv(inp).square().sum().backward()
    conv_d(inp.to("deeplink")).square().sum().backward()
    for (name, p), q in zip(conv.named_parameters(), conv_d.parameters()):
        torch.testing.assert_close(q.grad.cpu(), p.grad, rtol=1e-5, atol=1e-5, msg=name)
    stats = deeplink.op_stats()
    assert stats["histc"]["decomposed"] == 1 and stats["_weight_norm_interface_backward"]["decomposed"] == 1
    assert deeplink.fallback_stats() == {}

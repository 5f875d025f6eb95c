"""The cpu backend runs dtypes CUDA has and ATen CPU lacks (backends/cpu/ops/upcast.py): the call
runs natively in a wider dtype, results come back in the dtype CUDA returns, and in-place / out=
forms write into the caller's tensors. DEEPLINK_FALLBACK=error throughout: nothing may fall back."""
import argparse
import functools
import io

import pytest
import torch

import deeplink
from backend_scope import on_backend
from deeplink.dispatcher import widened_dtypes
from deeplink.opset.listing import add_ops_arguments, run_ops_command


@pytest.fixture(autouse=True)
def cpu_backend_no_fallback():
    with on_backend("cpu"):
        yield


def _native(op):
    stats = deeplink.op_stats()[op]
    assert stats["native"] >= 1 and stats["fallback"] == 0, stats


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_integer_histc_counts_like_float64(dtype):
    with pytest.raises(NotImplementedError):  # what the pass-through alone would do
        torch.histc(torch.arange(4, dtype=dtype), bins=4)
    experts = torch.randint(0, 8, (64,), dtype=dtype, generator=torch.Generator().manual_seed(0))
    expected = torch.histc(experts.double(), bins=8, min=0, max=7).to(dtype)
    got = torch.histc(experts.to("deeplink"), bins=8, min=0, max=7)
    assert got.dtype == dtype and got.device.type == "deeplink"
    assert torch.equal(got.cpu(), expected)
    _native("histc")


def test_out_form_writes_the_callers_tensor():
    x = torch.tensor([0, 1, 1, 3, 3, 3], dtype=torch.int32, device="deeplink")
    out = torch.full((1,), -1, dtype=torch.int32, device="deeplink")
    result = torch.histc(x, bins=4, min=0, max=3, out=out)
    assert result is out and out.dtype == torch.int32
    assert out.cpu().tolist() == [1, 2, 0, 3]


def test_complex32_results_are_complex32_and_in_place_keeps_the_tensor():
    z64 = torch.randn(6, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    z = z64.to(torch.complex32).to("deeplink")
    got = torch.exp(z)
    assert got.dtype == torch.complex32
    torch.testing.assert_close(got.cpu().to(torch.complex64), torch.exp(z.cpu().to(torch.complex64)).to(torch.complex32)
                               .to(torch.complex64))
    target = z.clone()
    ptr = target.data_ptr()
    assert target.exp_() is target and target.data_ptr() == ptr
    assert torch.equal(target.cpu().view(torch.float16), got.cpu().view(torch.float16))
    _native("exp")


def test_real_results_of_complex32_inputs_are_half():
    z = torch.randn(5, dtype=torch.complex64).to(torch.complex32).to("deeplink")
    got = torch.angle(z)
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.cpu(), torch.angle(z.cpu().to(torch.complex64)).to(torch.float16))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_avg_pool3d_forward_and_backward(dtype):
    x = torch.randn(1, 2, 4, 4, 4, generator=torch.Generator().manual_seed(2)).to(dtype)
    expected = torch.nn.functional.avg_pool3d(x.float(), 2).to(dtype)
    xd = x.to("deeplink").requires_grad_()
    got = torch.nn.functional.avg_pool3d(xd, 2)
    assert got.dtype == dtype
    torch.testing.assert_close(got.detach().cpu(), expected)
    got.sum().backward()
    assert xd.grad.dtype == dtype
    torch.testing.assert_close(xd.grad.cpu(), torch.full_like(x, 1 / 8))
    _native("avg_pool3d")
    _native("avg_pool3d_backward")


def test_dtypes_the_cpu_kernel_has_are_not_widened():
    x = torch.randn(100, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.histc(x.to("deeplink"), bins=10).cpu(), torch.histc(x, bins=10))
    assert torch.float32 not in widened_dtypes("histc", backend="cpu")


def test_deeplink_ops_names_the_widened_dtypes():
    assert widened_dtypes("histc", backend="cpu")[torch.int32] == torch.float64
    assert widened_dtypes("add.Tensor", backend="cpu") == {}
    args = add_ops_arguments(argparse.ArgumentParser()).parse_args(["--tier", "cuda", "--backend", "cpu"])
    out = io.StringIO()
    run_ops_command(args, {"cpu": functools.partial(deeplink.route_of, backend="cpu")}, out=out,
                    widened_of={"cpu": functools.partial(widened_dtypes, backend="cpu")})
    text = out.getvalue()
    assert "computed in a wider dtype" in text
    assert "cpu: histc: uint8->float64, int8->float64, int16->float64, int32->float64, int64->float64" in text


def test_a_dtype_argument_naming_the_lacking_dtype_is_widened_too():
    """sum/prod(dtype=complex32): the dtype= argument is widened with the tensors (ATen CPU has no
    complex32 sum) and the result comes back as complex32, as on CUDA; a dtype= the kernel has is
    passed on as asked, and the result stays in it."""
    z64 = torch.randn(6, 3, dtype=torch.complex64, generator=torch.Generator().manual_seed(4))
    z = z64.to(torch.complex32).to("deeplink")
    wide = z.cpu().to(torch.complex64)
    for got, expected in ((torch.sum(z, dtype=torch.complex32), wide.sum()),
                          (torch.sum(z, 0, dtype=torch.complex32), wide.sum(0)),
                          (torch.prod(z, dtype=torch.complex32), wide.prod()),
                          (torch.prod(z, 1, dtype=torch.complex32), wide.prod(1))):
        assert got.dtype == torch.complex32 and got.device.type == "deeplink"
        torch.testing.assert_close(got.cpu().to(torch.complex64), expected.to(torch.complex32).to(torch.complex64))
    kept = torch.sum(z, 0, dtype=torch.complex64)
    assert kept.dtype == torch.complex64
    torch.testing.assert_close(kept.cpu(), wide.sum(0))
    x = torch.randn(5, generator=torch.Generator().manual_seed(5))
    asked = torch.sum(x.to("deeplink"), dtype=torch.complex32)  # only the dtype= argument lacks a kernel
    assert asked.dtype == torch.complex32
    torch.testing.assert_close(asked.cpu().to(torch.complex64), x.sum().to(torch.complex32).to(torch.complex64))
    stats = deeplink.op_stats()
    for packet in ("sum", "prod"):
        calls = [v for k, v in stats.items() if k.split(".")[0] == packet]
        assert calls and all(v["fallback"] == 0 for v in calls) and sum(v["native"] for v in calls) >= 2, stats

"""The CUDA backend on a real GPU. Skipped where torch sees no CUDA device (CI); run on a GPU
machine with `python -m pytest -m cuda tests/backends/test_cuda.py` (or scripts/verify_cuda.sh,
which also runs the benchmark and the conformance suite)."""
import pytest
import torch

import deeplink

from native_cuda import run_native

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]


@pytest.fixture(autouse=True)
def cuda_backend():
    deeplink.use("cuda")
    try:
        yield
    finally:
        deeplink.set_fallback_mode("warn")


def test_listed_and_selected_by_default():
    rec = deeplink._registry.get("cuda")
    assert rec.available, rec.reason
    assert deeplink._registry.default_name() == "cuda"
    assert torch.cuda.get_device_name(0) in rec.backend.verified_on


def test_ops_match_native_cuda():
    c = torch.randn(64, 64, device="cuda")
    d = c.cpu().to("deeplink")
    assert deeplink.tensor_backend(d) == "cuda"
    torch.testing.assert_close((d @ d).cpu(), (c @ c).cpu())
    torch.testing.assert_close(torch.softmax(d, -1).cpu(), torch.softmax(c, -1).cpu())
    torch.testing.assert_close(d.t().contiguous().cpu(), c.t().contiguous().cpu())


def test_kernels_run_zero_copy_on_the_gpu():
    """Passthrough means the CUDA kernel writes deeplink memory in place: the op counts as native
    and the result's bytes are the same device memory a cuda alias of it sees."""
    deeplink.reset_op_stats()
    d = torch.ones(1000, device="deeplink")
    d.mul_(3)
    mul = deeplink.op_stats()["mul_.Tensor"]                # the Python scalar arrives as a wrapped number
    assert mul["native"] == 1 and mul["fallback"] == 0
    assert deeplink.fallback_stats() == {}
    assert d.sum().item() == 3000


def test_copies_in_every_direction():
    h = torch.randn(33, 17)
    d = h.to("deeplink")                                   # host -> device
    torch.testing.assert_close(d.cpu(), h)                 # device -> host
    e = torch.empty(33, 17, device="deeplink")
    e.copy_(d.t().contiguous().t())                        # device -> device, strided source
    torch.testing.assert_close(e.cpu(), h)
    torch.testing.assert_close(d.to(torch.bfloat16).cpu(), h.to(torch.bfloat16))  # on-device dtype change
    c = d.to("cuda")                                       # deeplink -> native cuda, on the device
    torch.testing.assert_close(c.cpu(), h)
    back = torch.empty(17, 33, device="deeplink")
    back.copy_(c.t())                                      # native cuda -> deeplink, strided
    torch.testing.assert_close(back.cpu(), h.t())
    pinned = torch.empty(33, 17).pin_memory()
    pinned.copy_(d, non_blocking=True)
    torch.deeplink.synchronize()
    torch.testing.assert_close(pinned, h)
    nc = torch.zeros(4, 8, device="deeplink")[:, ::2]      # host -> strided device view keeps the gaps
    nc.copy_(torch.ones(4, 4))
    assert nc._base.sum().item() == 16


def test_device_count_and_selection():
    n = torch.deeplink.device_count()
    assert n == torch.cuda.device_count()
    last = n - 1
    with torch.deeplink.device(last):
        x = torch.ones(3, device="deeplink")
        assert torch.deeplink.current_device() == last
    assert x.device == torch.device("deeplink", last)
    torch.testing.assert_close((x * 2).cpu(), torch.full((3,), 2.0))
    torch.deeplink.set_device(0)
    assert torch.deeplink.current_device() == 0


def test_memory_stats_follow_allocations():
    torch.deeplink.synchronize()
    base = torch.deeplink.memory_allocated()
    x = torch.empty(1 << 20, device="deeplink")
    assert torch.deeplink.memory_allocated() >= base + (4 << 20)
    y = x + 1                                              # a kernel output, adopted from torch's allocator
    assert torch.deeplink.memory_allocated() >= base + (8 << 20)
    del x, y
    assert torch.deeplink.memory_allocated() == base
    torch.deeplink.empty_cache()


def test_streams_events_synchronize():
    x = torch.randn(2048, 2048, device="deeplink")
    s = torch.deeplink.Stream()
    start, end = torch.deeplink.Event(enable_timing=True), torch.deeplink.Event(enable_timing=True)
    s.wait_stream(torch.deeplink.current_stream())
    with torch.deeplink.stream(s):
        assert torch.cuda.current_stream() is not None
        start.record()
        for _ in range(10):
            y = x @ x
        end.record()
    end.synchronize()
    assert end.query()
    ms = start.elapsed_time(end)
    assert 0 < ms < 10_000                                  # ten 2048^3 matmuls take real, finite time
    torch.deeplink.current_stream().wait_stream(s)
    torch.deeplink.synchronize()
    torch.testing.assert_close(y.cpu(), (x.cpu() @ x.cpu()), rtol=2e-2, atol=2e-2)


def test_rng_reproducible_on_the_gpu():
    torch.deeplink.manual_seed(7)
    a = torch.nn.functional.dropout(torch.ones(4096, device="deeplink"), 0.5)
    torch.deeplink.manual_seed(7)
    b = torch.nn.functional.dropout(torch.ones(4096, device="deeplink"), 0.5)
    assert torch.equal(a.cpu(), b.cpu())
    assert 1500 < (a.cpu() == 0).sum().item() < 2600


def test_printing_and_data_dependent_shapes():
    """Kernels that grow their output (masked_select, nonzero) resize storage on the GPU."""
    d = torch.tensor([[1.0, -2.0], [3.0, -4.0]], device="deeplink")
    assert "deeplink" in repr(d)
    torch.testing.assert_close(d[d > 0].cpu(), torch.tensor([1.0, 3.0]))
    assert torch.nonzero(d < 0).cpu().tolist() == [[0, 1], [1, 1]]
    out = torch.empty(0, device="deeplink")
    torch.cat([d, d], out=out)                               # out= grown by the kernel
    assert out.shape == (4, 2)


ATTENTION = """
torch.manual_seed(0)
q, k, v = (torch.randn(2, 4, 128, 64) for _ in range(3))
up = torch.randn(2, 4, 128, 64)
"""


def test_bf16_autocast_and_attention_match_cuda():
    ref = run_native(ATTENTION + """
q, k, v = (t.cuda().requires_grad_() for t in (q, k, v))
with torch.autocast("cuda", dtype=torch.bfloat16):
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
out.float().backward(up.cuda())
result = [out.float().cpu()] + [t.grad.cpu() for t in (q, k, v)]
""")
    scope = {"torch": torch}
    exec(ATTENTION, scope)
    q, k, v = (scope[n].to("deeplink").requires_grad_() for n in "qkv")
    with torch.autocast("deeplink", dtype=torch.bfloat16):
        got = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert got.dtype == torch.bfloat16
    got.float().backward(scope["up"].to("deeplink"))
    assert deeplink.fallback_stats() == {}
    for a, b in zip(ref, [got.float()] + [t.grad for t in (q, k, v)]):
        torch.testing.assert_close(b.cpu(), a, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_training_without_fallback_matches_cuda(arch):
    pytest.importorskip("transformers")
    from deeplink.models import train_steps

    ref = run_native(f"result = models.train_steps({arch!r}, 'cuda')[0]")
    deeplink.set_fallback_mode("error")
    deeplink.reset_op_stats()
    got, _ = train_steps(arch, "deeplink")
    assert deeplink.fallback_stats() == {}
    torch.testing.assert_close(torch.tensor(got), torch.tensor(ref), rtol=1e-4, atol=1e-5)

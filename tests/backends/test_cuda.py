"""The CUDA backend on a real GPU. Skipped where torch sees no CUDA device (CI); run on a GPU
machine with `pytest -m cuda tests/backends/test_cuda.py`."""
import pytest
import torch

import deeplink

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")]


@pytest.fixture
def cuda_backend():
    deeplink.use("cuda")
    try:
        yield
    finally:
        deeplink.use("cpu")


def test_listed_and_selected_by_default():
    rec = deeplink._registry.get("cuda")
    assert rec.available, rec.reason
    assert deeplink._registry.default_name() == "cuda"


def test_ops_match_native_cuda(cuda_backend):
    c = torch.randn(64, 64, device="cuda")
    d = c.cpu().to("deeplink")
    assert deeplink.tensor_backend(d) == "cuda"
    torch.testing.assert_close((d @ d).cpu(), (c @ c).cpu())
    torch.testing.assert_close(torch.softmax(d, -1).cpu(), torch.softmax(c, -1).cpu())
    torch.testing.assert_close(d.t().contiguous().cpu(), c.t().contiguous().cpu())


def test_memory_streams_events(cuda_backend):
    base = torch.deeplink.memory_allocated()
    x = torch.empty(1 << 20, device="deeplink")
    assert torch.deeplink.memory_allocated() >= base + 4 << 20
    s = torch.deeplink.Stream()
    start, end = torch.deeplink.Event(enable_timing=True), torch.deeplink.Event(enable_timing=True)
    with torch.deeplink.stream(s):
        start.record()
        y = x * 2
        end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0
    del x, y


def test_training_without_fallback_matches_cuda(cuda_backend):
    pytest.importorskip("transformers")
    from deeplink.models import train_steps

    ref, _ = train_steps("llama", "cuda")
    deeplink.set_fallback_mode("error")
    try:
        got, _ = train_steps("llama", "deeplink")
    finally:
        deeplink.set_fallback_mode("warn")
    assert deeplink.fallback_stats() == {}
    torch.testing.assert_close(torch.tensor(got), torch.tensor(ref), rtol=1e-4, atol=1e-5)

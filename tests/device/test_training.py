"""A LLaMA-style and a GPT-2 model from transformers (small configs, random weights, no download)
train 3 AdamW steps on the deeplink device with every op native (DEEPLINK_FALLBACK=error), and
match the same run on the CPU."""
import pytest
import torch

import deeplink

transformers = pytest.importorskip("transformers")

from deeplink.models import train_steps as _train  # noqa: E402


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_three_adamw_steps_match_cpu_with_no_fallback(kind):
    cpu_losses, cpu_params = _train(kind, "cpu")
    deeplink.set_fallback_mode("error")
    deeplink.reset_op_stats()
    try:
        dl_losses, dl_params = _train(kind, "deeplink")
    finally:
        deeplink.set_fallback_mode("warn")
    assert deeplink.fallback_stats() == {}
    stats = deeplink.op_stats()
    assert sum(s["native"] for s in stats.values()) > 100  # it really dispatched through deeplink
    # AdamW ran on the device: its _foreach_* ops are composite on this backend (as ATen's CPU
    # build has them), so their per-tensor pieces are what the dispatcher saw.
    assert {"lerp_.Scalar", "addcdiv_", "addcmul_"} <= set(stats)
    torch.testing.assert_close(torch.tensor(dl_losses), torch.tensor(cpu_losses), rtol=1e-5, atol=1e-6)
    for k in cpu_params:
        torch.testing.assert_close(dl_params[k], cpu_params[k], rtol=1e-4, atol=1e-5, msg=k)

"""A LLaMA-style and a GPT-2 model (transformers, tiny configs, random weights, no download)
train 3 AdamW steps on the onnxruntime backend with DEEPLINK_FALLBACK=error, so every op of
forward, backward and optimizer ran natively (ONNX graphs, or decompositions into them), and the
losses and weights match the same run on the CPU."""
from __future__ import annotations

import pytest
import torch

from test_onnxruntime_helpers import on_onnxruntime

import deeplink
from deeplink.backends.onnxruntime import stats

pytest.importorskip("transformers")

from deeplink.models import train_steps as _train  # noqa: E402


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_three_adamw_steps_match_cpu_with_every_op_native(kind):
    cpu_losses, cpu_params = _train(kind, "cpu")
    with on_onnxruntime("error"):
        deeplink.reset_op_stats()
        ort_losses, ort_params = _train(kind, "deeplink")
        ops = deeplink.op_stats()
    assert deeplink.fallback_stats() == {}
    # the fused attention and the multi-tensor optimizer kernels are this backend's graphs
    assert ops["_scaled_dot_product_efficient_attention"]["native"] == 3 * 2
    assert ops["_scaled_dot_product_efficient_attention_backward"]["native"] == 3 * 2
    assert ops["_foreach_lerp_.Scalar"]["native"] == 3
    assert stats()["providers_used"].keys() == {"CPUExecutionProvider"}
    torch.testing.assert_close(torch.tensor(ort_losses), torch.tensor(cpu_losses), rtol=1e-3,
                               atol=0)
    # Weights: GPT-2's key bias has an exactly-zero true gradient (softmax ignores a per-row
    # constant), so what both devices feed Adam there is rounding noise, which Adam normalises to
    # steps of up to lr: atol covers that; every other weight agrees far more closely.
    for k in cpu_params:
        torch.testing.assert_close(ort_params[k], cpu_params[k], rtol=1e-3, atol=1e-4, msg=k)

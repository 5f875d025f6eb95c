"""A LLaMA-style model (transformers, tiny config, random weights, no download) trains on the
emulated Ascend backend and matches the same model trained on the CPU: losses and parameters
after a few AdamW steps. Every op runs natively (fallback mode "error"), attention runs on
aclnnFlashAttentionScore / aclnnFlashAttentionScoreGrad, and afterwards the emulator is clean:
nothing queued, no memory hazards, every aclnn object destroyed.

Verified on the emulator only (ATen CPU reference math behind the aclnn ABI).
"""
from __future__ import annotations

import copy

import pytest
import torch

from test_ascend_helpers import emulator, on_ascend, settle_and_check_clean

transformers = pytest.importorskip("transformers")


def _config(**overrides):
    cfg = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=4, max_position_embeddings=64, attention_dropout=0.0)
    cfg.update(overrides)
    return transformers.LlamaConfig(**cfg)


def _train(model, ids, steps, device):
    """AdamW steps; returns the losses and the gradients of the first step (on the CPU)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    losses, first_grads = [], None
    x = ids.to(device)
    for _ in range(steps):
        loss = model(x, labels=x).loss
        loss.backward()
        if first_grads is None:
            first_grads = {n: p.grad.detach().cpu().clone() for n, p in model.named_parameters()}
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses, first_grads


def _compare(dev, cpu, dev_model, cpu_model):
    (dev_losses, dev_grads), (cpu_losses, cpu_grads) = dev, cpu
    assert dev_losses == pytest.approx(cpu_losses, rel=1e-5)
    for name, g in cpu_grads.items():
        # the CPU runs SDPA with its own flash kernel, so sums are ordered differently
        torch.testing.assert_close(dev_grads[name], g, rtol=1e-4, atol=1e-6, msg=name)
    for (name, p_dev), (_, p_cpu) in zip(dev_model.named_parameters(), cpu_model.named_parameters()):
        # Adam normalises each update to ~lr, so an element whose gradient is within the gradient
        # tolerance of 0 moves by rounding noise times lr (up to lr per step either way: only
        # bounded); elsewhere a wrong gradient would move parameters by ~lr (1e-3) per step.
        diff = (p_dev.detach().cpu() - p_cpu.detach()).abs()
        noise_driven = cpu_grads[name].abs() <= 1e-6
        assert (diff[~noise_driven] <= 1e-4).all(), f"{name}: {diff[~noise_driven].max().item():.2e}"
        assert (diff[noise_driven] <= 2 * 1e-3 * len(cpu_losses)).all(), name


def test_tiny_llama_trains_on_emulated_ascend_like_on_cpu():
    import deeplink
    torch.manual_seed(0)
    cpu_model = transformers.LlamaForCausalLM(_config()).train()
    dev_model = copy.deepcopy(cpu_model)
    ids = torch.randint(0, 128, (2, 16))
    cpu = _train(cpu_model, ids, 3, "cpu")
    emu = emulator()
    with on_ascend(fallback="error"):
        dev_model.to("deeplink")
        emu.clear_log()
        deeplink.reset_op_stats()
        dev = _train(dev_model, ids, 3, "deeplink")
        stats = deeplink.op_stats()
        calls = emu.state()["call_counts"]
        _compare(dev, cpu, dev_model, cpu_model)
        assert not deeplink.fallback_stats()
        # SDPA asks the backend's _fused_sdp_choice per call: the overrideable path (FlashAttentionScore)
        assert stats["_fused_sdp_choice"]["native"] == 6
        assert stats["_scaled_dot_product_fused_attention_overrideable"]["native"] == 6
        assert stats["_scaled_dot_product_fused_attention_overrideable_backward"]["native"] == 6
        assert calls["aclnnFlashAttentionScore"] == 6 and calls["aclnnFlashAttentionScoreGrad"] == 6
        assert calls["aclnnFlashAttentionScoreGetWorkspaceSize"] == 6
        assert not any(v["decomposed"] for v in stats.values()), {k: v for k, v in stats.items() if v["decomposed"]}
        settle_and_check_clean(emu)


def _fused_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """An attention function for transformers that calls the PrivateUse1 fused-attention op
    directly (grouped KV heads included): on the ascend backend, aclnnFlashAttentionScore."""
    assert attention_mask is None, "the test feeds unpadded sequences"
    out = torch.ops.aten._scaled_dot_product_fused_attention_overrideable(
        query, key, value, None, dropout, True, False, scale=scaling)[0]
    return out.transpose(1, 2).contiguous(), None


def test_tiny_llama_with_grouped_kv_heads_on_fused_attention():
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask
    AttentionInterface.register("ascend_fused", _fused_attention)
    AttentionMaskInterface.register("ascend_fused", sdpa_mask)
    torch.manual_seed(1)
    cpu_model = transformers.LlamaForCausalLM(_config(num_key_value_heads=2)).train()
    dev_model = copy.deepcopy(cpu_model)
    dev_model.config._attn_implementation = "ascend_fused"
    ids = torch.randint(0, 128, (2, 12))
    cpu = _train(cpu_model, ids, 2, "cpu")
    emu = emulator()
    with on_ascend(fallback="error"):
        dev_model.to("deeplink")
        emu.clear_log()
        dev = _train(dev_model, ids, 2, "deeplink")
        _compare(dev, cpu, dev_model, cpu_model)
        calls = emu.state()["call_counts"]
        assert calls["aclnnFlashAttentionScore"] == 4 and calls["aclnnFlashAttentionScoreGrad"] == 4
        settle_and_check_clean(emu)

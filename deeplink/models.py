"""Tiny transformers models for demos, tests and benchmarks: built from a config with random
weights (no download). Dropout is off so a run is comparable across devices (deeplink's RNG stream
is its own, as CUDA's is)."""
from __future__ import annotations

import torch


def tiny_model(kind: str, *, hidden: int = 64, layers: int = 2, heads: int = 4, vocab: int = 128, seed: int = 0,
               **config):
    """A random-weight LLaMA or GPT-2; `config` adds or overrides config fields (e.g.
    activation_function="gelu_pytorch_tanh", attn_implementation="eager")."""
    from .extras import require
    transformers = require("transformers", "models", "deeplink's tiny models (deeplink demo, model tests)")
    GPT2Config, GPT2LMHeadModel = transformers.GPT2Config, transformers.GPT2LMHeadModel
    LlamaConfig, LlamaForCausalLM = transformers.LlamaConfig, transformers.LlamaForCausalLM
    torch.manual_seed(seed)
    if kind == "llama":
        cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                          num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                          max_position_embeddings=256, **config)
        return LlamaForCausalLM(cfg)
    if kind == "gpt2":
        cfg = GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=256,
                         **{"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "bos_token_id": 0, "eos_token_id": 0,
                            **config})
        return GPT2LMHeadModel(cfg)
    raise ValueError(f"unknown model kind {kind!r}: expected 'llama' or 'gpt2'")


def train_steps(kind: str, device: str, steps: int = 3, *, lr: float = 1e-3, **config):
    """Train a fresh tiny_model(kind) for `steps` AdamW steps on `device` with fixed data.
    `config`: extra model config fields (tiny_model). Returns (losses, state_dict on the CPU). AdamW uses foreach=True on every device so runs on
    different devices apply the same update formula (CPU would otherwise pick the per-tensor
    loop, whose different operation order Adam amplifies for near-zero gradients)."""
    model = tiny_model(kind, **config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, foreach=True)
    ids = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(1)).to(device)
    losses = []
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses, {k: v.detach().cpu() for k, v in model.state_dict().items()}

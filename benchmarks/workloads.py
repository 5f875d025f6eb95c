"""What the benchmarks run: small ops on 16x16 tensors and one training step of the tiny
LLaMA-style model (deeplink/models.py, 0.7M parameters, batch 4 x 64, AdamW), eager or compiled."""
from __future__ import annotations

import copy

import torch

_BASE = {}


def small_ops(device: str) -> dict:
    a = torch.randn(16, 16, device=device)
    b = torch.randn(16, 16, device=device)
    v = torch.randn(64, device=device)
    return {
        "add (16x16)": lambda: a + b,
        "mul_ in-place (16x16)": lambda: a.mul_(1.0),
        "mm 16x16": lambda: a @ b,
        "view": lambda: v.view(8, 8),
        "sum (16x16)": lambda: a.sum(),
    }


def _base_model():
    if "llama" not in _BASE:
        from deeplink.models import tiny_model
        _BASE["llama"] = tiny_model("llama", hidden=128, layers=2)
    return _BASE["llama"]


def training_step(device: str, compile_backend: str | None = None):
    """A step function (forward, backward, AdamW, loss.item()) on a fresh copy of one model; with
    `compile_backend`, the model is torch.compile'd with it and compiled by a first step here."""
    model = copy.deepcopy(_base_model()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    ids = torch.randint(0, 128, (4, 64), generator=torch.Generator().manual_seed(0)).to(device)
    forward = torch.compile(model, backend=compile_backend) if compile_backend else model

    def step():
        loss = forward(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    step()
    return step

"""Each model family users train (tests/models/families.py) trains 2 AdamW steps on the deeplink
device with DEEPLINK_FALLBACK=error on the cpu, onnxruntime and emulated Ascend backends, with
losses equal to the same run on the CPU at float32 tolerance.

Where a backend truly lacks an op a family needs, that (backend, family) pair runs with the CPU
fallback allowed for exactly the ops listed in ALLOWED_FALLBACKS, each with the reason; any other
fallback fails the test, and the ones that happened are counted in the test's assertion.

The onnxruntime runs build an ONNX session per op and shape (about 20 s per family on 2 cores):
they are marked slow, `make test-slow` or `pytest -m slow tests/models` runs them.
"""
from __future__ import annotations

import copy
import functools
import warnings

import pytest
import torch

import deeplink
from backend_scope import on_backend
from families import FAMILIES, train

pytest.importorskip("transformers")

STEPS = 2

ALLOWED_FALLBACKS = {
    ("onnxruntime", "speech-wav2vec2"): {
        "_ctc_loss": "ONNX has no CTC loss operator",
        "_ctc_loss_backward": "ONNX has no CTC loss operator",
    },
    ("ascend", "speech-wav2vec2"): {
        "_ctc_loss": "aclnnCtcLoss is not emulated (tests/ascend_emulator)",
        "_ctc_loss_backward": "aclnnCtcLossBackward is not emulated",
        "masked_select": "its decomposition needs nonzero, whose data-dependent output size the aclnn op runner "
                         "cannot allocate before the call",
    },
}


def _register(backend: str):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    if backend == "ascend":
        from ascend_emulator.build import build
        from deeplink.backends.ascend import AscendBackend
        try:
            rec = deeplink._registry.get("ascend")
        except ValueError:
            rec = None
        if rec is None or not rec.available:
            rec = deeplink.register_backend(AscendBackend(home=str(build())))
        assert rec.available, rec.reason


@functools.lru_cache(maxsize=None)
def _cpu_run(family: str):
    torch.manual_seed(0)
    model, batch = FAMILIES[family]()
    initial = copy.deepcopy(model)
    return initial, batch, train(model, batch, "cpu", STEPS)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("backend", ["cpu", pytest.param("onnxruntime", marks=pytest.mark.slow), "ascend"])
def test_two_adamw_steps_match_cpu(backend, family):
    initial, batch, (cpu_losses, cpu_params) = _cpu_run(family)
    allowed = ALLOWED_FALLBACKS.get((backend, family), {})
    _register(backend)
    with on_backend(backend, "silent" if allowed else "error"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses, params = train(copy.deepcopy(initial), batch, "deeplink", STEPS)
        fell_back, stats = deeplink.fallback_stats(), deeplink.op_stats()
    assert set(fell_back) <= set(allowed), f"unexpected CPU fallbacks on {backend}: {fell_back}"
    assert sum(s["native"] + s["decomposed"] for s in stats.values()) > 100  # it really ran on the device
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(cpu_losses), rtol=1e-5, atol=1e-5)
    # Adam moves every element by up to lr per step whatever the gradient's size, so elements
    # whose true gradient is ~0 differ by rounding noise times lr: atol covers STEPS * lr.
    for name, p in cpu_params.items():
        torch.testing.assert_close(params[name], p, rtol=1e-3, atol=STEPS * 1e-3, msg=name)

"""Autocompare pinpoints a wrong kernel planted in a test backend inside a real model's training
step, with the module it ran in, and says nothing on a correct backend."""
import json
import subprocess
import sys

import pytest
import torch

import deeplink
import planted_debug_backend  # noqa: F401  (registers the planted-* backends)
from deeplink.debug import Autocompare
from models import gpt2_step, llama_sdpa_step, llama_step

pytest.importorskip("transformers")


def _run(backend, step):
    deeplink.use(backend)
    try:
        with Autocompare() as ac:
            step()
        return ac.report(), ac.summary()
    finally:
        deeplink.use("cpu")


def test_planted_gelu_is_the_first_divergence():
    report, summary = _run("planted-gelu", gpt2_step)
    first = report["first_divergence"]
    assert first["op"] == "gelu" and first["arguments"] == {"approximate": "tanh"}
    assert first["module"] == "transformer.h.0.mlp.act" and first["phase"] == "forward" and first["step"] == 0
    assert first["dtype"] == "float32" and first["shapes"] == [[2, 16, 256]] and first["route"] == "native"
    assert first["max_abs_err"] > 1e-5 and first["max_rel_err"] > 0
    assert set(report["divergent_ops"]) == {"gelu"}          # nothing else is blamed
    assert report["calls_before_first"] and report["calls_before_first"][-1]["op"] == "addmm"
    assert "FIRST DIVERGENCE: aten::gelu" in summary and "transformer.h.0.mlp.act (GELUTanh)" in summary


def test_planted_gelu_backward_is_found_in_small_gradients():
    """The wrong derivative changes gradients of ~1e-4 by ~1e-3 of their value: judged against the
    gradients' own scale, not the activations' (op_check.tolerance_for)."""
    report, _ = _run("planted-gelu-backward", gpt2_step)
    first = report["first_divergence"]
    assert first["op"] == "gelu_backward" and first["phase"] == "backward"
    assert first["module"] == "transformer.h.1.mlp.act" and first["arguments"] == {"approximate": "tanh"}
    assert set(report["divergent_ops"]) == {"gelu_backward"}


def test_planted_softmax_is_found_in_attention():
    report, _ = _run("planted-softmax", llama_step)
    first = report["first_divergence"]
    assert first["op"] == "_softmax" and first["module"] == "model.layers.0.self_attn"
    assert first["max_abs_err"] > 0.1
    assert set(report["divergent_ops"]) == {"_softmax"}


def test_fused_attention_is_judged_and_its_planted_backward_found():
    """ATen's CPU has no fused attention kernel: its reference is attention by definition (GQA
    included). The right forward passes, the backward that ignores is_causal is the divergence."""
    report, _ = _run("planted-attention", llama_sdpa_step)
    first = report["first_divergence"]
    assert first["op"] == "_scaled_dot_product_efficient_attention_backward" and first["phase"] == "backward"
    assert first["module"] == "model.layers.1.self_attn" and first["arguments"]["is_causal"] is True
    assert first["shapes"][2] == [2, 2, 16, 16] and "attention by definition" in first["reference"]
    assert set(report["divergent_ops"]) == {"_scaled_dot_product_efficient_attention_backward"}
    assert "random" not in report["skipped"] and not report["not_judged"]


@pytest.mark.parametrize("step", [gpt2_step, llama_step])
def test_quiet_on_a_correct_backend(step):
    report, summary = _run("cpu", step)
    assert report["first_divergence"] is None and report["divergent_calls"] == 0
    assert report["compared"] > 200 and "no divergence" in summary


def test_backward_ops_are_attributed_to_their_module():
    deeplink.use("cpu")
    seen = []

    class Recording(Autocompare):
        def _diverged(self, record):
            super()._diverged(record)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if "gelu_backward" in str(func):
                seen.append(self._position())
            return super().__torch_dispatch__(func, types, args, kwargs)
    with Recording():
        gpt2_step(steps=1)
    assert seen and {s["phase"] for s in seen} == {"backward"}
    assert {s["module"] for s in seen} == {"transformer.h.0.mlp.act", "transformer.h.1.mlp.act"}


def test_ops_regex_limits_what_is_compared():
    deeplink.use("planted-gelu")
    try:
        with Autocompare(ops="^addmm$") as ac:
            gpt2_step(steps=1)
    finally:
        deeplink.use("cpu")
    r = ac.report()
    assert r["first_divergence"] is None and r["skipped"]["not selected by --ops"] > 0


def test_device_errors_propagate():
    deeplink.use("cpu")
    with pytest.raises(RuntimeError, match="shape"):
        with Autocompare():
            torch.ones(2, 3, device="deeplink") @ torch.ones(2, 3, device="deeplink")


def test_cli_writes_the_json_report(tmp_path):
    """`deeplink run --autocompare --report FILE` on an unmodified CUDA script."""
    script = tmp_path / "train.py"
    script.write_text(
        "import torch, torch.nn as nn\n"
        "torch.manual_seed(0)\n"
        "m = nn.Sequential(nn.Linear(8, 32), nn.GELU(approximate='tanh'), nn.Linear(32, 1)).cuda()\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "x = torch.randn(16, 8, device='cuda')\n"
        "for _ in range(2):\n"
        "    loss = m(x).pow(2).mean(); opt.zero_grad(); loss.backward(); opt.step()\n")
    report = tmp_path / "ac.json"
    plugin = str(__import__("pathlib").Path(planted_debug_backend.__file__))
    proc = subprocess.run([sys.executable, "-m", "deeplink", "run", "--plugin", plugin, "--backend", "planted-gelu",
                           "--autocompare", "--report", str(report), str(script)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = json.loads(report.read_text())["first_divergence"]
    assert first["op"] == "gelu" and first["module"] == "1" and first["module_type"] == "GELU"
    assert {"op", "module", "dtype", "shapes", "max_abs_err", "max_rel_err"} <= set(first)
    assert "FIRST DIVERGENCE: aten::gelu" in proc.stderr

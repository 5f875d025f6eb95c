"""torch.compile(backend="deeplink") on the onnxruntime backend (backends/onnxruntime/compile.py):
each AOTAutograd graph becomes one ONNX graph and one session; what ONNX cannot take runs eagerly
per node. Compiled results equal eager ones (same kernels, traced) within fp32 tolerance, forward
and backward."""
from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch._dynamo

from test_onnxruntime_helpers import on_onnxruntime

from deeplink.backends.onnxruntime import compile as ort_compile


@pytest.fixture(autouse=True)
def _fresh():
    torch._dynamo.reset()
    with on_onnxruntime("warn"):
        yield
    torch._dynamo.reset()


@pytest.fixture
def compiled(monkeypatch):
    """compiled(fn) -> (fn compiled on the deeplink backend, the programs it compiled)."""
    programs = []
    original = ort_compile.compile_graph

    def recording(gm, example_inputs):
        program = original(gm, example_inputs)
        programs.append(program)
        return program
    monkeypatch.setattr(ort_compile, "compile_graph", recording)
    return lambda fn, **kw: (torch.compile(fn, backend="deeplink", **kw), programs)


def test_mlp_forward_and_backward_are_one_graph_each_and_equal_eager(compiled):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.LayerNorm(16),
                                torch.nn.Linear(16, 4)).to("deeplink")
    eager = copy.deepcopy(model)
    x = torch.randn(5, 8).to("deeplink")
    run, programs = compiled(model)
    y = run(x)
    y.pow(2).mean().backward()
    ey = eager(x)
    ey.pow(2).mean().backward()
    torch.testing.assert_close(y.cpu(), ey.cpu())
    for p, q in zip(model.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad.cpu(), q.grad.cpu())
    assert len(programs) == 2       # forward, backward
    for program in programs:
        s = program.summary()
        assert s["segments"] == 1 and s["eager_nodes"] == 0 and s["lowered_nodes"] > 5, s


def test_strided_inputs_and_outputs(compiled):
    def fn(a, b):
        return (a.t() @ b).t(), (a + 1)[:, 1::2], a.permute(1, 0) * 2

    a, b = torch.randn(6, 4), torch.randn(6, 3)
    run, programs = compiled(fn)
    outs = run(a.to("deeplink").t().contiguous().t(), b.to("deeplink"))
    for got, want in zip(outs, fn(a, b)):
        assert got.device.type == "deeplink"
        torch.testing.assert_close(got.cpu(), want)
    assert programs[0].summary()["eager_nodes"] == 0


def test_an_op_onnx_lacks_runs_eagerly_between_graph_segments(compiled):
    from deeplink.backends.onnxruntime.ops import TABLE
    assert "special_bessel_j0" not in TABLE     # no kernel: the CPU fallback runs it in eager mode

    def fn(x):
        y = torch.special.bessel_j0(x * 2 + 1)
        return (y.exp() - x).sum(-1)

    x = torch.randn(4, 5)
    run, programs = compiled(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the eager CPU fallback's notice
        got = run(x.to("deeplink"))
    torch.testing.assert_close(got.cpu(), fn(x))
    s = programs[0].summary()
    assert s["eager_nodes"] == 1 and s["segments"] == 2, s
    assert list(s["eager_ops"]) == ["aten.special_bessel_j0.default"]


def test_random_ops_draw_at_run_time(compiled):
    def fn(x):
        return torch.nn.functional.dropout(x + 1, 0.5, training=True)

    x = torch.ones(64, 64, device="deeplink")
    run, programs = compiled(fn)
    a, b = run(x).cpu(), run(x).cpu()
    assert not torch.equal(a, b)                    # a fresh mask per call
    assert set(a.unique().tolist()) <= {0.0, 4.0}   # (1 + 1) / (1 - p) where kept
    assert programs[0].summary()["eager_nodes"] >= 1


def test_dynamic_shapes_are_declined_and_run_op_by_op():
    fn = torch.compile(lambda x: (x * 2).sum(0), backend="deeplink", dynamic=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = fn(torch.arange(12.0).reshape(3, 4).to("deeplink"))
    torch.testing.assert_close(got.cpu(), torch.arange(12.0).reshape(3, 4).mul(2).sum(0))
    assert any("declined a graph" in str(w.message) for w in caught)


def test_bf16_graph_equals_eager_bitwise(compiled):
    def fn(a, b):
        return torch.softmax(a @ b, -1) * a.sum()

    a, b = torch.randn(8, 8, dtype=torch.bfloat16), torch.randn(8, 8, dtype=torch.bfloat16)
    ad, bd = a.to("deeplink"), b.to("deeplink")
    run, _ = compiled(fn)
    assert torch.equal(run(ad, bd).cpu(), fn(ad, bd).cpu())


def test_tiny_llama_training_steps_match_eager():
    pytest.importorskip("transformers")
    from deeplink.models import tiny_model
    base = tiny_model("llama")
    ids = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(1)).to("deeplink")

    def train(compile: bool):
        model = copy.deepcopy(base).to("deeplink")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
        fn = torch.compile(model, backend="deeplink") if compile else model
        losses = []
        for _ in range(3):
            loss = fn(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        return losses, {k: v.detach().cpu() for k, v in model.state_dict().items()}

    before = dict(ort_compile.TOTALS)
    eager_losses, eager_params = train(False)
    losses, params = train(True)
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(eager_losses), rtol=1e-5, atol=0)
    for k in eager_params:
        torch.testing.assert_close(params[k], eager_params[k], rtol=1e-4, atol=1e-5, msg=k)
    assert ort_compile.TOTALS["graphs"] - before.get("graphs", 0) == 2
    lowered = ort_compile.TOTALS["lowered_nodes"] - before.get("lowered_nodes", 0)
    eager = ort_compile.TOTALS["eager_nodes"] - before.get("eager_nodes", 0)
    assert eager <= 0.01 * lowered, (lowered, eager, dict(ort_compile.EAGER_OPS))

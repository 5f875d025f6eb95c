"""torch.compile on the deeplink device: the dynamo device interface, the `deeplink` backend, the
default Inductor path (C++ code on zero-copy views for the cpu backend), a vendor graph compiler
through Backend.compile_graph, and training with losses equal to eager."""
import copy
import warnings

import pytest
import torch
import torch._dynamo
from torch._dynamo.testing import CompileCounterWithBackend

import deeplink
from deeplink.backends.cpu import CpuBackend
from deeplink.compile.aten_inductor import compile_aten_graph


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_registration():
    from torch._dynamo.backends.registry import list_backends
    from torch._dynamo.device_interface import get_interface_for_device
    assert "deeplink" in list_backends(exclude_tags=())
    iface = get_interface_for_device("deeplink")
    assert iface.device_count() == torch.deeplink.device_count()
    assert iface.current_device() == torch.deeplink.current_device()
    assert iface.get_raw_stream(0) == 0


@pytest.mark.parametrize("backend", ["inductor", "deeplink"])
def test_graph_with_views_mutation_and_factories(backend):
    def fn(a, b):
        a.add_(1)
        y = (a @ b).relu().sum(-1) * 2 + torch.arange(a.shape[0], device=a.device)
        return y, a.t(), a[0]

    a, b = torch.randn(8, 8), torch.randn(8, 8)
    ad = a.to("deeplink")
    y, t, row = torch.compile(fn, backend=backend, fullgraph=True)(ad, b.to("deeplink"))
    ey, et, erow = fn(a.clone(), b)
    assert y.device.type == t.device.type == "deeplink"
    torch.testing.assert_close(y.cpu(), ey)
    assert torch.equal(ad.cpu(), a + 1)  # the mutation reached the device tensor
    assert row.data_ptr() == ad.data_ptr() and torch.equal(t.cpu(), et)  # outputs that are views stay views


def test_guards_recompile_on_shape_change():
    counter = CompileCounterWithBackend("deeplink")
    fn = torch.compile(lambda x: x * 2 + 1, backend=counter)
    fn(torch.randn(4, device="deeplink"))
    fn(torch.randn(4, device="deeplink"))
    assert counter.frame_count == 1
    fn(torch.randn(8, device="deeplink"))
    assert counter.frame_count == 2


def test_graph_breaks_device_transfers_and_autocast():
    counter = CompileCounterWithBackend("deeplink")

    def fn(x):
        y = x + 1
        torch._dynamo.graph_break()
        with torch.autocast("deeplink", dtype=torch.bfloat16):
            z = y @ y
        return z, (y * 2).cpu()

    x = torch.randn(4, 4, device="deeplink")
    z, c = torch.compile(fn, backend=counter)(x)
    assert counter.frame_count == 2
    assert z.dtype == torch.bfloat16 and c.device.type == "cpu"
    torch.testing.assert_close(c, (x.cpu() + 1) * 2)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.LayerNorm(32),
                               torch.nn.Linear(32, 32), torch.nn.SiLU(), torch.nn.Linear(32, 1))


def _train(model, compiled, device, steps=3):
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1)).to(device)
    target = torch.randn(16, 1, generator=torch.Generator().manual_seed(2)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(compiled(x), target)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def test_default_compile_trains_like_eager():
    eager = _model().to("deeplink")
    compiled_model = copy.deepcopy(eager)
    eager_losses = _train(eager, eager, "deeplink")
    compiled_losses = _train(compiled_model, torch.compile(compiled_model), "deeplink")
    torch.testing.assert_close(torch.tensor(compiled_losses), torch.tensor(eager_losses), rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(eager.named_parameters(), compiled_model.parameters()):
        assert q.is_deeplink
        torch.testing.assert_close(q.cpu(), p.cpu(), rtol=1e-4, atol=1e-5, msg=name)


class GraphCompilingCpu(CpuBackend):
    """The cpu backend with a vendor graph compiler: the hook's contract, end to end."""
    name = "cpu_graph_compiler"
    priority = -100

    def __init__(self):
        self.graphs = []
        self.decline = False

    def compile_graph(self, gm, example_inputs):
        self.graphs.append(gm)
        if self.decline:
            return None
        assert all(t.device.type == "deeplink" for t in example_inputs if isinstance(t, torch.Tensor))
        return compile_aten_graph(gm, example_inputs, "cpu")


@pytest.fixture
def graph_backend():
    try:
        rec = deeplink._registry.get(GraphCompilingCpu.name)
    except ValueError:
        rec = deeplink.register_backend(GraphCompilingCpu())
    deeplink.use(GraphCompilingCpu.name)
    rec.backend.graphs.clear()
    rec.backend.decline = False
    yield rec.backend
    deeplink.use("cpu")


def test_vendor_graph_compiler_gets_forward_and_backward(graph_backend):
    x = torch.randn(6, 5, device="deeplink", requires_grad=True)
    w = torch.randn(5, 3, device="deeplink", requires_grad=True)
    fn = torch.compile(lambda x, w: torch.tanh(x @ w).sum(), backend="deeplink")
    loss = fn(x, w)
    loss.backward()
    assert len(graph_backend.graphs) == 2  # forward, then backward
    assert any(n.target is torch.ops.aten.mm.default for n in graph_backend.graphs[0].graph.nodes)
    xc, wc = x.detach().cpu().requires_grad_(), w.detach().cpu().requires_grad_()
    torch.tanh(xc @ wc).sum().backward()
    torch.testing.assert_close(loss.cpu(), torch.tanh(xc @ wc).sum().detach())
    torch.testing.assert_close(x.grad.cpu(), xc.grad)
    torch.testing.assert_close(w.grad.cpu(), wc.grad)


def test_declined_graphs_run_op_by_op(graph_backend):
    graph_backend.decline = True
    x = torch.randn(4, device="deeplink")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = torch.compile(lambda x: x.sin() * 2, backend="deeplink")(x)
    assert graph_backend.graphs and torch.allclose(y.cpu(), x.cpu().sin() * 2)
    assert any("declined a graph" in str(w.message) for w in caught)


def test_switching_backends_recompiles_for_the_new_backend():
    """A graph compiled under one deeplink backend never runs on another's tensors: dynamo's guards
    (shape, dtype, device type) cannot tell them apart, so deeplink.use() drops compiled code made
    for the previous backend and the next call compiles again, here with onnxruntime's compiler."""
    from backend_scope import on_backend
    if not deeplink._registry.get("onnxruntime").available:
        pytest.skip("onnxruntime is not installed")
    from deeplink.backends.onnxruntime import stats
    counter = CompileCounterWithBackend("deeplink")
    fn = torch.compile(lambda x: torch.tanh(x) * 2, backend=counter)
    x = torch.randn(8)
    with on_backend("cpu"):
        torch.testing.assert_close(fn(x.to("deeplink")).cpu(), torch.tanh(x) * 2)
        fn(x.to("deeplink"))
    assert counter.frame_count == 1
    with on_backend("onnxruntime"):
        before = sum(stats()["compiled"][k] for k in stats()["compiled"] if k != "eager_ops")
        y = fn(x.to("deeplink"))
        after = sum(stats()["compiled"][k] for k in stats()["compiled"] if k != "eager_ops")
    assert counter.frame_count == 2, "the graph compiled under cpu ran on onnxruntime tensors"
    assert after > before  # onnxruntime's graph compiler compiled it
    torch.testing.assert_close(y.cpu(), torch.tanh(x) * 2)
    with on_backend("cpu"):
        fn(x.to("deeplink"))
    assert counter.frame_count == 3  # and back

"""Device contract: what users do with tensors on the device works on this backend as on the CPU."""
from __future__ import annotations

import io

import pytest
import torch

import deeplink


def test_factories_print_and_item(backend):
    assert torch.equal(torch.arange(6, device="deeplink").cpu(), torch.arange(6))
    assert torch.equal(torch.full((2, 3), 1.5, device="deeplink").cpu(), torch.full((2, 3), 1.5))
    assert torch.zeros(2, 2, device="deeplink").sum().item() == 0
    assert "deeplink" in repr(torch.ones(2, device="deeplink"))
    assert torch.tensor(3.25, device="deeplink").item() == 3.25


def test_views_alias_their_base(backend):
    d = torch.zeros(4, 6, device="deeplink")
    d.view(24)[5] = 1
    d.t()[2, 1] = 2
    d[:, 3:].fill_(3)
    want = torch.zeros(4, 6)
    want.view(24)[5] = 1
    want.t()[2, 1] = 2
    want[:, 3:].fill_(3)
    assert torch.equal(d.cpu(), want)
    assert d.view(24).untyped_storage().data_ptr() == d.untyped_storage().data_ptr()


def test_in_place_and_out_forms(backend):
    x = torch.randn(5, 5)
    d = x.to("deeplink")
    d.mul_(2).add_(1)
    assert torch.allclose(d.cpu(), x * 2 + 1)
    out = torch.empty(0, device="deeplink")
    torch.add(d, d, out=out)
    assert out.shape == (5, 5) and torch.allclose(out.cpu(), (x * 2 + 1) * 2)


def test_indexing_and_masks(backend):
    x = torch.arange(12.).reshape(3, 4)
    d = x.to("deeplink")
    assert torch.equal(d[1].cpu(), x[1])
    assert torch.equal(d[d > 5].cpu(), x[x > 5])
    idx = torch.tensor([2, 0], device="deeplink")
    assert torch.equal(d[idx].cpu(), x[torch.tensor([2, 0])])
    d[d > 9] = -1
    x[x > 9] = -1
    assert torch.equal(d.cpu(), x)


def test_autograd_matches_the_cpu(backend):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    x = torch.randn(5, 8)
    ref = model(x).pow(2).mean()
    ref.backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    dev = model.to("deeplink")
    loss = dev(x.to("deeplink")).pow(2).mean()
    loss.backward()
    torch.testing.assert_close(loss.cpu(), ref.detach(), rtol=1e-4, atol=1e-5)
    for p, w in zip(dev.parameters(), want):
        torch.testing.assert_close(p.grad.cpu(), w, rtol=1e-4, atol=1e-5)


def test_seeding_reproduces_random_streams(backend):
    torch.manual_seed(123)
    a = torch.randn(16, device="deeplink").cpu()
    torch.manual_seed(123)
    b = torch.randn(16, device="deeplink").cpu()
    assert torch.equal(a, b)
    state = torch.deeplink.get_rng_state()
    c = torch.rand(8, device="deeplink").cpu()
    torch.deeplink.set_rng_state(state)
    assert torch.equal(torch.rand(8, device="deeplink").cpu(), c)


def test_save_and_load(backend):
    x = torch.randn(3, 4)
    buf = io.BytesIO()
    torch.save({"w": x.to("deeplink")}, buf)
    buf.seek(0)
    back = torch.load(buf, map_location="cpu")
    assert torch.equal(back["w"], x)
    buf.seek(0)
    on_dev = torch.load(buf)
    assert on_dev["w"].device.type == "deeplink" and torch.equal(on_dev["w"].cpu(), x)


def test_mixing_with_a_cpu_tensor_is_an_error(backend):
    with pytest.raises(RuntimeError, match="same device|device"):
        torch.ones(3, device="deeplink") + torch.ones(3)


def test_a_training_step_matches_the_cpu(backend):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    dev = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    dev.load_state_dict(model.state_dict())
    dev = dev.to("deeplink")
    x, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    for m, xx, yy in ((model, x, y), (dev, x.to("deeplink"), y.to("deeplink"))):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(2):
            loss = torch.nn.functional.cross_entropy(m(xx), yy)
            loss.backward()
            opt.step()
            opt.zero_grad()
    for p, q in zip(model.parameters(), dev.parameters()):
        torch.testing.assert_close(q.detach().cpu(), p.detach(), rtol=1e-4, atol=1e-5)
    assert deeplink.tensor_backend(next(dev.parameters())) == backend

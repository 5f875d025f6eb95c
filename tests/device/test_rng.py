import torch

import deeplink


def test_generator_reproduces():
    g = torch.Generator(device="deeplink")
    assert g.device.type == "deeplink"
    g.manual_seed(123)
    a = torch.randn(8, device="deeplink", generator=g)
    g.manual_seed(123)
    b = torch.randn(8, device="deeplink", generator=g)
    assert torch.equal(a.cpu(), b.cpu())


def test_manual_seed_and_state():
    torch.deeplink.manual_seed(7)
    a = torch.rand(5, device="deeplink")
    torch.deeplink.manual_seed(7)
    assert torch.equal(a.cpu(), torch.rand(5, device="deeplink").cpu())
    state = torch.deeplink.get_rng_state()
    x = torch.randn(4, device="deeplink")
    torch.deeplink.set_rng_state(state)
    assert torch.equal(x.cpu(), torch.randn(4, device="deeplink").cpu())
    assert torch.deeplink.initial_seed() == 7


def test_torch_manual_seed_reaches_deeplink():
    torch.manual_seed(11)
    a = torch.rand(3, device="deeplink")
    torch.manual_seed(11)
    assert torch.equal(a.cpu(), torch.rand(3, device="deeplink").cpu())


def test_deeplink_stream_is_independent_of_cpu_generator():
    torch.deeplink.manual_seed(5)
    a = torch.rand(3, device="deeplink")
    torch.deeplink.manual_seed(5)
    torch.rand(100)  # consuming the CPU generator must not shift deeplink's
    assert torch.equal(a.cpu(), torch.rand(3, device="deeplink").cpu())


def test_dropout_and_randperm_seeded():
    torch.deeplink.manual_seed(3)
    x = torch.ones(100, device="deeplink")
    a = torch.nn.functional.dropout(x, 0.5)
    p = torch.randperm(10, device="deeplink")
    torch.deeplink.manual_seed(3)
    assert torch.equal(a.cpu(), torch.nn.functional.dropout(x, 0.5).cpu())
    assert torch.equal(p.cpu(), torch.randperm(10, device="deeplink").cpu())
    assert sorted(p.cpu().tolist()) == list(range(10))


def test_aten_generator_follows_deeplink_seed():
    torch.deeplink.manual_seed(9)
    a = torch.rand(4, generator=deeplink.aten_generator())  # a CPU generator for host-side kernels
    torch.deeplink.manual_seed(9)
    assert torch.equal(a, torch.rand(4, generator=deeplink.aten_generator()))

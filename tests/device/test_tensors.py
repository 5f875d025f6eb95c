"""What a user does with tensors on the deeplink device (CPU reference backend)."""
import io

import torch

import deeplink  # noqa: F401


def test_factory_and_round_trip():
    x = torch.randn(4, 4, device="deeplink")
    assert x.device == torch.device("deeplink", 0)
    c = torch.arange(12.0).reshape(3, 4)
    d = c.to("deeplink")
    assert d.device.type == "deeplink"
    assert torch.equal(d.cpu(), c)
    assert torch.equal(torch.zeros(2, 3, dtype=torch.int64, device="deeplink").cpu(), torch.zeros(2, 3, dtype=torch.int64))


def test_print_and_item():
    x = torch.tensor([1.5, 2.5], device="deeplink")
    assert "device='deeplink:0'" in repr(x)
    assert x.sum().item() == 4.0
    assert torch.tensor(7, device="deeplink").item() == 7


def test_indexing_and_boolean_masks():
    c = torch.arange(20.0).reshape(4, 5)
    d = c.to("deeplink")
    assert torch.equal(d[1:3, ::2].cpu(), c[1:3, ::2])
    assert torch.equal(d[d > 7].cpu(), c[c > 7])
    d[d > 15] = -1.0
    c[c > 15] = -1.0
    assert torch.equal(d.cpu(), c)
    idx = torch.tensor([3, 0], device="deeplink")
    assert torch.equal(d[idx].cpu(), c[torch.tensor([3, 0])])


def test_views_share_memory():
    d = torch.arange(12.0, device="deeplink")
    v = d.view(3, 4)
    t = v.t()
    assert not t.is_contiguous()
    t[0, 1] = 100.0  # writes through the view into d
    assert d[4].item() == 100.0
    assert torch.equal(t.contiguous().cpu(), v.cpu().t())
    assert torch.equal(d.reshape(2, 6).cpu(), d.cpu().reshape(2, 6))
    assert d.view(3, 4).untyped_storage().data_ptr() == d.untyped_storage().data_ptr()


def test_in_place_and_out_ops():
    d = torch.ones(5, device="deeplink")
    r = d.mul_(3).add_(1)
    assert r is d and torch.equal(d.cpu(), torch.full((5,), 4.0))
    out = torch.empty(0, device="deeplink")  # wrong size: the kernel resizes it
    res = torch.add(d, 1, out=out)
    assert res is out and out.shape == (5,) and torch.equal(out.cpu(), torch.full((5,), 5.0))
    out2 = torch.empty(5, device="deeplink")
    torch.mul(d, d, out=out2)
    assert torch.equal(out2.cpu(), torch.full((5,), 16.0))


def test_out_resize_keeps_storage_owned_by_deeplink():
    out = torch.empty(1, device="deeplink")
    torch.sum(torch.randn(64, 64, device="deeplink"), dim=0, out=out)
    assert out.shape == (64,)
    assert deeplink.tensor_backend(out) == "cpu"


def test_dtypes_round_trip():
    for dt in (torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int32, torch.bool, torch.complex64):
        c = (torch.arange(6) % 3).to(dt)
        assert torch.equal(c.to("deeplink").cpu(), c), dt
    # conversion on the device
    d = torch.arange(6.0, device="deeplink").to(torch.int16)
    assert d.dtype == torch.int16 and torch.equal(d.cpu(), torch.arange(6, dtype=torch.int16))


def test_save_and_load():
    d = torch.randn(3, 4, device="deeplink")
    buf = io.BytesIO()
    torch.save({"t": d}, buf)
    buf.seek(0)
    back = torch.load(buf)["t"]
    assert back.device.type == "deeplink" and torch.equal(back.cpu(), d.cpu())
    buf.seek(0)
    on_cpu = torch.load(buf, map_location="cpu")["t"]
    assert on_cpu.device.type == "cpu" and torch.equal(on_cpu, d.cpu())
    buf2 = io.BytesIO()
    torch.save(torch.ones(2), buf2)
    buf2.seek(0)
    assert torch.load(buf2, map_location="deeplink").device.type == "deeplink"


def test_generated_privateuse1_methods():
    c = torch.ones(2)
    assert not c.is_deeplink
    d = c.deeplink()
    assert d.is_deeplink
    m = torch.nn.Linear(3, 2).deeplink()
    assert m.weight.is_deeplink
    assert c.untyped_storage().deeplink().device.type == "deeplink"


def test_module_to_keeps_tied_weights():
    emb = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    model = torch.nn.ModuleDict({"emb": emb, "head": head}).to("deeplink")
    assert model["emb"].weight is model["head"].weight


def test_untyped_storage_and_resize():
    s = torch.UntypedStorage(16, device="deeplink")
    assert s.device.type == "deeplink" and s.nbytes() == 16
    d = torch.arange(4.0, device="deeplink")
    d.resize_(8)
    assert d.shape == (8,) and torch.equal(d[:4].cpu(), torch.arange(4.0))


def test_set_shares_storage():
    a = torch.arange(6.0, device="deeplink")
    b = torch.empty(0, device="deeplink")
    b.set_(a.untyped_storage(), 2, (2, 2), (2, 1))
    assert torch.equal(b.cpu(), torch.tensor([[2.0, 3.0], [4.0, 5.0]]))
    b.set_(a)
    assert b.data_ptr() == a.data_ptr()


def test_second_device():
    d = torch.ones(3, device="deeplink:1")
    assert (d + 1).device == torch.device("deeplink", 1)
    assert torch.equal(d.to("deeplink:0").cpu(), torch.ones(3))


def test_complex_and_conj():
    c = torch.tensor([1 + 2j, 3 - 1j])
    d = c.to("deeplink")
    assert torch.equal(d.conj().cpu(), c.conj())
    assert torch.equal((d * d.conj()).cpu(), c * c.conj())

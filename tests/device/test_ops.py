"""Operators on the deeplink device as a CUDA user calls them: factories, copies, out= into strided
outputs, CPU index tensors and masks in indexing, and the outputs that must stay on the device."""
import pytest
import torch

import deeplink  # noqa: F401


def test_factories():
    assert torch.tensor((), device="deeplink").shape == (0,)
    x = torch.empty(2, 3, 4, 5, device="deeplink", memory_format=torch.channels_last)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.empty_strided((3, 4), (1, 3), device="deeplink").stride() == (1, 3)
    assert torch.all(torch.full((3, 4), 5.0, device="deeplink") == 5.0).item()
    assert torch.equal(torch.triu_indices(3, 3, device="deeplink").cpu(), torch.triu_indices(3, 3))
    with torch._subclasses.fake_tensor.FakeTensorMode():
        z = torch.empty(3, 3, device="deeplink") + torch.empty(3, 3, device="deeplink:0")
        assert z.device.type == "deeplink"


def test_copies_keep_or_change_memory_as_asked():
    x = torch.randn(3, 4, device="deeplink")
    assert x.to("deeplink").data_ptr() == x.data_ptr()
    y = x.to("deeplink", copy=True)
    assert y.data_ptr() != x.data_ptr() and torch.equal(y.cpu(), x.cpu())
    d = torch.empty(3, 4, dtype=torch.float64, device="deeplink").copy_(x)
    assert torch.equal(d.cpu(), x.cpu().double())
    if torch.deeplink.device_count() > 1:
        assert torch.equal(x.to("deeplink:1").to("deeplink:0").cpu(), x.cpu())


def test_out_into_strided_outputs():
    xc = torch.randn(2, 2, 3)
    xd = xc.to("deeplink")
    oc = torch.randn(2, 2, 6)
    od = oc.to("deeplink")
    torch.abs(xc, out=oc[:, :, 0:6:2])
    torch.abs(xd, out=od[:, :, 0:6:2])
    assert torch.equal(od.cpu(), oc)


def test_expand_and_masked_select():
    x = torch.tensor([[1], [2], [3]], device="deeplink")
    y = x.expand(3, 2)
    assert y.data_ptr() == x.data_ptr() and torch.equal(y.cpu(), torch.tensor([[1, 1], [2, 2], [3, 3]]))
    c = torch.randn(10)
    assert torch.equal(torch.masked_select(c.to("deeplink"), c.to("deeplink").gt(0)).cpu(), c[c > 0])


class TestCpuIndexTensors:
    """CPU and CUDA accept CPU index tensors and masks in advanced indexing; so does deeplink."""

    def setup_method(self):
        self.c = torch.arange(20.0).reshape(4, 5)
        self.d = self.c.to("deeplink")

    def test_read_with_cpu_indices_and_masks(self):
        idx = torch.tensor([3, 0])
        assert torch.equal(self.d[idx].cpu(), self.c[idx])
        assert torch.equal(self.d[idx, idx].cpu(), self.c[idx, idx])
        mask = self.c > 7
        assert torch.equal(self.d[mask].cpu(), self.c[mask])
        row_mask = torch.tensor([True, False, True, False])
        assert torch.equal(self.d[row_mask].cpu(), self.c[row_mask])
        assert torch.equal(self.d[:, torch.tensor([4, 1])].cpu(), self.c[:, torch.tensor([4, 1])])

    def test_write_with_cpu_indices_and_masks(self):
        idx = torch.tensor([0, 1])
        for d, c in ((self.d, self.c),):
            d[idx] = torch.zeros(5, device="deeplink")
            c[idx] = torch.zeros(5)
            d[c > 15] = -1.0
            c[c > 15] = -1.0
            d.index_put_((idx,), torch.tensor(7.0, device="deeplink"), accumulate=True)
            c.index_put_((idx,), torch.tensor(7.0), accumulate=True)
            assert torch.equal(d.cpu(), c)

    def test_index_fill_with_a_cpu_index(self):
        idx = torch.tensor([0, 3])
        assert torch.equal(self.d.index_fill(1, idx, -2.0).cpu(), self.c.index_fill(1, idx, -2.0))
        self.d.index_fill_(0, idx, 9.0)
        self.c.index_fill_(0, idx, 9.0)
        assert torch.equal(self.d.cpu(), self.c)

    def test_cpu_values_are_still_refused(self):
        with pytest.raises(RuntimeError, match="same device"):
            torch.index_put_(torch.zeros(5, device="deeplink"), (torch.tensor([0, 1]),), torch.tensor([1.0, 2.0]))


def test_outputs_must_be_on_the_device():
    x = torch.tensor([0.0, 1.0, 2.0], device="deeplink")
    with pytest.raises(RuntimeError, match="as the output"):
        torch.nonzero(x, out=torch.empty(0, dtype=torch.long))
    with pytest.raises(RuntimeError, match="as the output"):
        torch.add(x.sum(), 1, out=torch.tensor(0.0))  # zero-dim CPU outputs too
    out = torch.empty(0, dtype=torch.long, device="deeplink")
    torch.nonzero(x, out=out)
    assert out.cpu().flatten().tolist() == [1, 2]

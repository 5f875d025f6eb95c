"""Views and aliasing: what a view op returns must share memory with its base, write through to it,
and be recognised as a view (as PyTorch's view-op tests check per device)."""
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES

VIEW_OPS = {
    "view": lambda t: t.view(4, 6),
    "view_as": lambda t: t.view_as(torch.empty(6, 4)),
    "reshape_contiguous": lambda t: t.reshape(2, 12),
    "transpose": lambda t: t.transpose(0, 1),
    "t": lambda t: t.t(),
    "permute": lambda t: t.permute(1, 0),
    "narrow": lambda t: t.narrow(1, 1, 3),
    "select": lambda t: t.select(0, 2),
    "slice_step": lambda t: t[::2, 1::3],
    "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "expand": lambda t: t[:1].expand(5, 6),
    "diagonal": lambda t: t.diagonal(),
    "unfold": lambda t: t.unfold(1, 2, 2),
    "as_strided": lambda t: t.as_strided((2, 2), (6, 1), 1),
    "flatten_contiguous": lambda t: t.flatten(),
    "unflatten": lambda t: t.flatten().unflatten(0, (6, 4)),
    "movedim": lambda t: t.movedim(0, 1),
    "split": lambda t: t.split(2)[1],
    "chunk": lambda t: t.chunk(3, dim=1)[2],
    "unbind": lambda t: t.unbind(0)[3],
    "tensor_split": lambda t: t.tensor_split(3, dim=1)[1],
    "swapaxes": lambda t: t.swapaxes(0, 1),
}


class TestViews(TestCase):
    def _base(self, device, dtype):
        return torch.arange(24, device=device).reshape(4, 6).to(dtype)

    @dtypes(torch.float32, torch.int64)
    def test_view_ops_share_storage(self, device, dtype):
        for name, op in VIEW_OPS.items():
            base = self._base(device, dtype)
            v = op(base)
            self.assertEqual(v.untyped_storage().data_ptr(), base.untyped_storage().data_ptr(), msg=name)
            self.assertTrue(v._is_view(), msg=name)
            self.assertEqual(v.device, base.device, msg=name)
            self.assertEqual(v, op(base.cpu()), msg=name)

    @dtypes(torch.float32)
    def test_writes_through_views_reach_the_base(self, device, dtype):
        for name, op in VIEW_OPS.items():
            if name == "expand":
                continue
            base = self._base(device, dtype)
            ref = self._base("cpu", dtype)
            op(base).fill_(-7)
            op(ref).fill_(-7)
            self.assertEqual(base, ref, msg=name)

    def test_dtype_views_reinterpret_the_bytes(self, device):
        c = torch.tensor([1.0, -2.0, 0.5])
        d = c.to(device)
        bits = d.view(torch.int32)
        self.assertEqual(bits.data_ptr(), d.data_ptr())
        self.assertEqual(bits, c.view(torch.int32))
        self.assertEqual(d.view(torch.uint8).shape, (12,))
        bits[0] = 0
        self.assertEqual(d[0].item(), 0.0)

    def test_detach_shares_memory_without_being_a_view(self, device):
        base = torch.ones(3, device=device, requires_grad=True)
        d = base.detach()
        self.assertEqual(d.data_ptr(), base.data_ptr())
        self.assertFalse(d.requires_grad)

    def test_base_writes_are_seen_by_views(self, device):
        base = torch.zeros(3, 4, device=device)
        v = base.t()[1:]
        base[2, 3] = 5.0
        self.assertEqual(v[2, 2].item(), 5.0)
        self.assertIs(v._base, base)

    def test_reshape_of_non_contiguous_copies(self, device):
        t = torch.arange(12.0, device=device).reshape(3, 4).t()
        r = t.reshape(12)
        self.assertNotEqual(r.untyped_storage().data_ptr(), t.untyped_storage().data_ptr())
        self.assertEqual(r, torch.arange(12.0).reshape(3, 4).t().reshape(12))
        self.assertFalse(t.is_contiguous())
        self.assertTrue(t.contiguous().is_contiguous())

    def test_complex_real_imag_views(self, device):
        z = torch.tensor([1 + 2j, 3 - 4j], device=device)
        z.real.mul_(10)
        z.imag.add_(1)
        self.assertEqual(z, torch.tensor([10 + 3j, 30 - 3j]))
        r = torch.view_as_real(z)
        self.assertEqual(r.untyped_storage().data_ptr(), z.untyped_storage().data_ptr())
        self.assertEqual(torch.view_as_complex(r), z)
        c = z.conj()
        self.assertTrue(c.is_conj())
        self.assertEqual(c.resolve_conj(), torch.tensor([10 - 3j, 30 + 3j]))

    def test_in_place_on_view_under_autograd(self, device):
        x = torch.randn(4, 4, device=device, requires_grad=True)
        y = x * 1
        y[1:3].mul_(2)
        y.t()[0].add_(1)
        y.sum().backward()
        xc = x.detach().cpu().requires_grad_()
        yc = xc * 1
        yc[1:3].mul_(2)
        yc.t()[0].add_(1)
        yc.sum().backward()
        self.assertEqual(x.grad, xc.grad)

    def test_view_of_view_offsets(self, device):
        base = torch.arange(100.0, device=device)
        v = base[10:90].view(8, 10)[2:6, 3:7].t()
        self.assertEqual(v.storage_offset(), 33)
        self.assertEqual(v, torch.arange(100.0)[10:90].view(8, 10)[2:6, 3:7].t())

    def test_illegal_views_raise(self, device):
        t = torch.arange(12.0, device=device).reshape(3, 4).t()
        with self.assertRaisesRegex(RuntimeError, "view size is not compatible"):
            t.view(12)

    def test_empty_and_zero_dim_views(self, device):
        e = torch.empty(0, 3, device=device)
        self.assertEqual(e.view(3, 0).shape, (3, 0))
        s = torch.tensor(3.0, device=device)
        self.assertEqual(s.view(1, 1).item(), 3.0)
        self.assertEqual(s.expand(2, 2).stride(), (0, 0))


instantiate_device_type_tests(TestViews, globals(), only_for=DEVICES)

"""Tensor creation on a device: factories, *_like, ranges, random factories' shapes and ranges,
dtype inference, and where new tensors land."""
import numpy as np
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES


class TestCreation(TestCase):
    @dtypes(torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int64, torch.bool,
            torch.complex64)
    def test_constant_factories(self, device, dtype):
        for make, ref in ((lambda: torch.zeros(2, 3, dtype=dtype, device=device), torch.zeros(2, 3, dtype=dtype)),
                          (lambda: torch.ones(2, 3, dtype=dtype, device=device), torch.ones(2, 3, dtype=dtype)),
                          (lambda: torch.full((2, 3), 1, dtype=dtype, device=device), torch.full((2, 3), 1, dtype=dtype)),
                          (lambda: torch.eye(3, 4, dtype=dtype, device=device), torch.eye(3, 4, dtype=dtype))):
            t = make()
            self.assertEqual(t.device.type, torch.device(device).type)
            self.assertEqual(t.dtype, dtype)
            self.assertEqual(t, ref)
        e = torch.empty(2, 3, dtype=dtype, device=device)
        self.assertEqual((e.shape, e.dtype), ((2, 3), dtype))

    @dtypes(torch.float32, torch.int64)
    def test_like_factories_keep_device_and_layout(self, device, dtype):
        base = torch.zeros(3, 4, dtype=dtype, device=device).t()
        for fn in (torch.zeros_like, torch.ones_like, torch.empty_like):
            t = fn(base)
            self.assertEqual((t.device, t.dtype, t.shape, t.stride()), (base.device, dtype, (4, 3), base.stride()))
        self.assertEqual(torch.full_like(base, 7), torch.full((4, 3), 7, dtype=dtype))
        self.assertEqual(base.new_ones(2).device, base.device)
        self.assertEqual(base.new_tensor([1, 2]), torch.tensor([1, 2], dtype=dtype))

    def test_ranges(self, device):
        self.assertEqual(torch.arange(10, device=device), torch.arange(10))
        self.assertEqual(torch.arange(1.0, 2.0, 0.25, device=device), torch.arange(1.0, 2.0, 0.25))
        self.assertEqual(torch.arange(5, 0, -2, device=device), torch.arange(5, 0, -2))
        self.assertEqual(torch.linspace(-1, 1, 7, device=device), torch.linspace(-1, 1, 7))
        self.assertEqual(torch.logspace(0, 2, 5, device=device), torch.logspace(0, 2, 5))
        self.assertEqual(torch.arange(0, device=device).shape, (0,))
        self.assertEqual(torch.tril_indices(4, 3, device=device), torch.tril_indices(4, 3))
        self.assertEqual(torch.triu_indices(3, 3, 1, device=device), torch.triu_indices(3, 3, 1))

    def test_tensor_constructor_infers_dtypes(self, device):
        self.assertEqual(torch.tensor([1, 2], device=device).dtype, torch.int64)
        self.assertEqual(torch.tensor([1.0, 2], device=device).dtype, torch.get_default_dtype())
        self.assertEqual(torch.tensor([True], device=device).dtype, torch.bool)
        self.assertEqual(torch.tensor([1j], device=device).dtype, torch.complex64)
        self.assertEqual(torch.tensor((), device=device).shape, (0,))
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        self.assertEqual(torch.tensor(a, device=device), torch.from_numpy(a))
        self.assertEqual(torch.as_tensor(a, device=device), torch.from_numpy(a))
        self.assertEqual(torch.tensor(3.5, device=device).item(), 3.5)

    def test_random_factories(self, device):
        torch.manual_seed(0)
        r = torch.rand(1000, device=device)
        self.assertTrue(((r >= 0) & (r < 1)).all().item())
        n = torch.randn(20000, device=device)
        self.assertLess(abs(n.mean().item()), 0.05)
        self.assertLess(abs(n.std().item() - 1), 0.05)
        i = torch.randint(3, 9, (500,), device=device)
        self.assertEqual((i.min().item() >= 3, i.max().item() < 9, i.dtype), (True, True, torch.int64))
        p = torch.randperm(50, device=device)
        self.assertEqual(p.sort().values, torch.arange(50))
        b = torch.bernoulli(torch.full((1000,), 0.3, device=device))
        self.assertTrue(0.2 < b.mean().item() < 0.4)
        m = torch.multinomial(torch.tensor([0.0, 1.0, 0.0], device=device), 5, replacement=True)
        self.assertEqual(m, torch.ones(5, dtype=torch.long))
        u = torch.empty(1000, device=device).uniform_(-2, -1)
        self.assertTrue(((u >= -2) & (u < -1)).all().item())

    def test_seeded_random_is_reproducible(self, device):
        g = torch.Generator(device=device).manual_seed(4)
        a = torch.randn(10, device=device, generator=g)
        g.manual_seed(4)
        self.assertEqual(a, torch.randn(10, device=device, generator=g))

    def test_default_device_context(self, device):
        with torch.device(device):
            t = torch.ones(2)
        self.assertEqual(t.device.type, torch.device(device).type)


instantiate_device_type_tests(TestCreation, globals(), only_for=DEVICES)

"""Reductions against the CPU: dims, keepdim, dtype arguments, empty inputs, NaN handling,
cumulative ops and the errors for bad dims."""
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES

FLOAT_REDUCTIONS = {
    "sum": lambda t, **kw: t.sum(**kw),
    "prod": lambda t, dim=None, **kw: t.prod() if dim is None else t.prod(dim, **kw),
    "mean": lambda t, **kw: t.mean(**kw),
    "var": lambda t, **kw: t.var(**kw),
    "std": lambda t, **kw: t.std(**kw),
    "var_unbiased0": lambda t, **kw: t.var(correction=0, **kw),
    "norm": lambda t, dim=None, **kw: t.norm(dim=dim, **kw),
    "norm_1": lambda t, dim=None, **kw: torch.linalg.vector_norm(t, 1, dim=dim, **kw),
    "amax": lambda t, dim=None, **kw: t.amax() if dim is None else t.amax(dim, **kw),
    "amin": lambda t, dim=None, **kw: t.amin() if dim is None else t.amin(dim, **kw),
    "logsumexp": lambda t, dim=None, **kw: t.logsumexp(dim if dim is not None else (0, 1), **kw),
    "nansum": lambda t, **kw: t.nansum(**kw),
    "nanmean": lambda t, **kw: t.nanmean(**kw),
    "count_nonzero": lambda t, dim=None, **kw: t.count_nonzero(dim),
    "all": lambda t, dim=None, **kw: t.bool().all() if dim is None else t.bool().all(dim, **kw),
    "any": lambda t, dim=None, **kw: t.bool().any() if dim is None else t.bool().any(dim, **kw),
}


class TestReductions(TestCase):
    @dtypes(torch.float32, torch.float64, torch.bfloat16, torch.float16)
    def test_float_reductions(self, device, dtype):
        c = torch.randn(5, 7, dtype=torch.float32).to(dtype)
        d = c.to(device)
        for name, op in FLOAT_REDUCTIONS.items():
            self.assertEqual(op(d), op(c), msg=name)
            for dim in (0, 1, -1):
                kw = {} if name == "count_nonzero" else {"keepdim": True}
                self.assertEqual(op(d, dim=dim, **kw), op(c, dim=dim, **kw), msg=f"{name} dim={dim}")

    @dtypes(torch.int64, torch.int32, torch.uint8, torch.bool)
    def test_integer_reductions_promote(self, device, dtype):
        c = torch.randint(0, 3, (4, 6)).to(dtype)
        d = c.to(device)
        self.assertEqual(d.sum().dtype, c.sum().dtype)
        self.assertEqual(d.sum(1), c.sum(1))
        self.assertEqual(d.prod(0), c.prod(0))
        self.assertEqual(d.sum(dtype=torch.float32), c.sum(dtype=torch.float32))
        if dtype != torch.bool:
            self.assertEqual(d.amax(1), c.amax(1))

    @dtypes(torch.float32, torch.int64)
    def test_cumulative(self, device, dtype):
        c = torch.randint(-3, 4, (3, 6)).to(dtype)
        d = c.to(device)
        for op in (torch.cumsum, torch.cumprod):
            self.assertEqual(op(d, 1), op(c, 1))
        self.assertEqual(torch.cummax(d, 1), torch.cummax(c, 1))
        self.assertEqual(torch.cummin(d, 0), torch.cummin(c, 0))
        if dtype.is_floating_point:
            self.assertEqual(torch.logcumsumexp(d, 1), torch.logcumsumexp(c, 1))

    def test_empty_reductions(self, device):
        e = torch.empty(0, 3, device=device)
        self.assertEqual(e.sum(0), torch.zeros(3))
        self.assertEqual(e.prod(0), torch.ones(3))
        self.assertEqual(e.mean(), torch.tensor(float("nan")), equal_nan=True)
        self.assertEqual(e.amax(1).shape, (0,))
        with self.assertRaisesRegex((IndexError, RuntimeError), "empty|zero-size|Expected reduction dim"):
            e.amax(0)

    def test_nan_propagation(self, device):
        c = torch.tensor([[1.0, float("nan"), 3.0], [4.0, 5.0, 6.0]])
        d = c.to(device)
        self.assertEqual(d.max(1).values, c.max(1).values, equal_nan=True)
        self.assertEqual(d.amin(1), c.amin(1), equal_nan=True)
        self.assertEqual(d.sum(1), c.sum(1), equal_nan=True)
        self.assertEqual(d.nansum(1), c.nansum(1))
        self.assertEqual(torch.isnan(d).any().item(), True)

    def test_aminmax_and_std_mean(self, device):
        c = torch.randn(4, 5)
        d = c.to(device)
        self.assertEqual(torch.aminmax(d, dim=1), torch.aminmax(c, dim=1))
        self.assertEqual(torch.std_mean(d, dim=0), torch.std_mean(c, dim=0))
        self.assertEqual(torch.var_mean(d, dim=1, correction=0), torch.var_mean(c, dim=1, correction=0))

    def test_bad_dims_raise(self, device):
        with self.assertRaisesRegex(IndexError, "Dimension out of range"):
            torch.zeros(2, 2, device=device).sum(3)


instantiate_device_type_tests(TestReductions, globals(), only_for=DEVICES)

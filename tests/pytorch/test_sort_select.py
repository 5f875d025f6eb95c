"""Sorting and selection: sort (stable, descending, NaN placement), argsort, topk, kthvalue,
median, mode, max/min with indices, searchsorted."""
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES


class TestSortSelect(TestCase):
    @dtypes(torch.float32, torch.float64, torch.int64, torch.int16, torch.bfloat16)
    def test_sort_matches_cpu(self, device, dtype):
        c = torch.randint(-20, 20, (5, 17)).to(dtype)
        d = c.to(device)
        for dim in (0, 1, -1):
            for descending in (False, True):
                v, i = d.sort(dim=dim, descending=descending, stable=True)
                cv, ci = c.sort(dim=dim, descending=descending, stable=True)
                self.assertEqual(v, cv)
                self.assertEqual(i, ci)  # stable: ties keep their order, so indices are unique
        self.assertEqual(d.argsort(dim=1, stable=True), c.argsort(dim=1, stable=True))
        self.assertEqual(d.msort(), c.msort())

    def test_sort_nan_goes_last(self, device):
        c = torch.tensor([3.0, float("nan"), -1.0, float("inf"), float("nan"), 0.0])
        d = c.to(device)
        self.assertEqual(d.sort().values, c.sort().values, equal_nan=True)
        self.assertEqual(d.sort(descending=True).values, c.sort(descending=True).values, equal_nan=True)

    @dtypes(torch.float32, torch.int64)
    def test_topk_kthvalue_median_mode(self, device, dtype):
        c = torch.randperm(60).reshape(4, 15).to(dtype)
        d = c.to(device)
        for largest in (True, False):
            v, i = d.topk(4, dim=1, largest=largest, sorted=True)
            cv, ci = c.topk(4, dim=1, largest=largest, sorted=True)
            self.assertEqual(v, cv)
            self.assertEqual(i, ci)
        self.assertEqual(d.kthvalue(3, dim=1), c.kthvalue(3, dim=1))
        self.assertEqual(d.median(dim=1), c.median(dim=1))
        self.assertEqual(d.median(), c.median())
        m = torch.tensor([[1, 2, 2, 3], [4, 4, 5, 5]]).to(dtype)
        self.assertEqual(m.to(device).mode(dim=1).values, m.mode(dim=1).values)

    @dtypes(torch.float32, torch.int32)
    def test_max_min_with_indices(self, device, dtype):
        c = torch.tensor([[1, 5, 5, 2], [7, 0, 7, 3]]).to(dtype)
        d = c.to(device)
        self.assertEqual(d.max(dim=1), c.max(dim=1))
        self.assertEqual(d.min(dim=0), c.min(dim=0))
        self.assertEqual(d.argmax(), c.argmax())
        self.assertEqual(d.argmin(dim=1, keepdim=True), c.argmin(dim=1, keepdim=True))
        self.assertEqual(torch.maximum(d, d.flip(1)), torch.maximum(c, c.flip(1)))

    def test_searchsorted_and_bucketize(self, device):
        seq = torch.tensor([[1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0]])
        vals = torch.tensor([[3.0, 6.0], [1.0, 9.0]])
        for right in (False, True):
            self.assertEqual(torch.searchsorted(seq.to(device), vals.to(device), right=right),
                             torch.searchsorted(seq, vals, right=right))
        self.assertEqual(torch.bucketize(vals.to(device), seq[0].to(device)), torch.bucketize(vals, seq[0]))

    def test_topk_errors(self, device):
        with self.assertRaisesRegex(RuntimeError, "out of range|selected index k"):
            torch.zeros(3, device=device).topk(5)


instantiate_device_type_tests(TestSortSelect, globals(), only_for=DEVICES)

"""Type promotion on a device: tensor-tensor, tensor-scalar and zero-dim-tensor rules, in-place
restrictions, integer division, comparisons, and result_type agreement with the CPU."""
import itertools

import torch
from torch.testing._internal.common_device_type import instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
          torch.bfloat16, torch.float32, torch.float64, torch.complex64]


def _sample(dtype):
    return torch.tensor([0, 1, 2, 3]).to(dtype) if dtype != torch.bool else torch.tensor([True, False, True, True])


class TestTypePromotion(TestCase):
    def test_binary_ops_promote_like_cpu(self, device):
        for a_t, b_t in itertools.product(DTYPES, DTYPES):
            a, b = _sample(a_t), _sample(b_t)
            da, db = a.to(device), b.to(device)
            for name, op in (("add", torch.add), ("mul", torch.mul), ("sub", torch.sub)):
                if name == "sub" and torch.bool in (a_t, b_t):
                    continue  # subtracting booleans raises on every device
                expected = op(a, b)
                actual = op(da, db)
                self.assertEqual(actual.dtype, expected.dtype, msg=f"{name} {a_t} {b_t}")
                self.assertEqual(actual, expected, msg=f"{name} {a_t} {b_t}")

    def test_scalars_and_zero_dim_tensors(self, device):
        cases = {
            "int32 + int": lambda i, h: i + 1,
            "int32 + float": lambda i, h: i + 1.5,
            "int32 * complex": lambda i, h: i * 1j,
            "int32 + 0-dim int64 (CPU)": lambda i, h: i + torch.tensor(5, dtype=torch.int64),
            "int32 + 0-dim float64": lambda i, h: i + torch.tensor(5.0, dtype=torch.float64, device=i.device),
            "half + double": lambda i, h: h + torch.ones(2, dtype=torch.float64, device=h.device),
            "half * 0-dim double (CPU)": lambda i, h: h * torch.tensor(2.0, dtype=torch.float64),
            "half + bool": lambda i, h: h + torch.ones(2, dtype=torch.bool, device=h.device),
            "bool + int": lambda i, h: (i > 1) + 3,
        }
        i, h = torch.tensor([1, 2], dtype=torch.int32), torch.ones(2, dtype=torch.float16)
        for name, op in cases.items():
            expected = op(i, h)
            actual = op(i.to(device), h.to(device))
            self.assertEqual(actual.dtype, expected.dtype, msg=name)
            self.assertEqual(actual, expected, msg=name)
        self.assertEqual(torch.result_type(i.to(device), 2.0), torch.result_type(i, 2.0))

    def test_in_place_cannot_downcast(self, device):
        i = torch.ones(2, dtype=torch.int64, device=device)
        with self.assertRaisesRegex(RuntimeError, "can't be cast"):
            i.add_(torch.ones(2, device=device))
        f = torch.ones(2, device=device)
        f.add_(torch.ones(2, dtype=torch.int64, device=device))
        self.assertEqual(f, torch.full((2,), 2.0))

    def test_division_and_comparisons(self, device):
        a = torch.tensor([-7, 7, 9], device=device)
        b = torch.tensor([2, -2, 3], device=device)
        self.assertEqual((a / b).dtype, torch.get_default_dtype())
        self.assertEqual(a / b, torch.tensor([-3.5, -3.5, 3.0]))
        self.assertEqual(a // b, torch.tensor([-4, -4, 3]))
        self.assertEqual(torch.div(a, b, rounding_mode="trunc"), torch.tensor([-3, -3, 3]))
        self.assertEqual(a % b, torch.tensor([1, -1, 0]))
        cmp = a > b.double()
        self.assertEqual((cmp.dtype, cmp.cpu().tolist()), (torch.bool, [False, True, True]))

    def test_out_dtype_rules(self, device):
        a = torch.ones(3, dtype=torch.int32, device=device)
        out = torch.empty(3, dtype=torch.float64, device=device)
        torch.add(a, a, out=out)
        self.assertEqual(out, torch.full((3,), 2.0, dtype=torch.float64))
        with self.assertRaisesRegex(RuntimeError, "can't be cast"):
            torch.add(a.float(), a.float(), out=torch.empty(3, dtype=torch.int32, device=device))


instantiate_device_type_tests(TestTypePromotion, globals(), only_for=DEVICES)

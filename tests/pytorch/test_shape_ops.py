"""Shape and layout operators against the CPU: joins, splits, flips, rolls, triangles, repeats,
broadcasting, uniqueness, memory formats."""
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES

SHAPE_OPS = {
    "cat": lambda a: torch.cat([a, a * 2], dim=1),
    "cat_empty": lambda a: torch.cat([a, a[:, :0]], dim=1),
    "stack": lambda a: torch.stack([a, a], dim=0),
    "hstack": lambda a: torch.hstack([a, a]),
    "vstack": lambda a: torch.vstack([a, a]),
    "flip": lambda a: a.flip(0, 1),
    "fliplr": lambda a: a.fliplr(),
    "roll": lambda a: a.roll(shifts=(1, -2), dims=(0, 1)),
    "roll_flat": lambda a: a.roll(3),
    "rot90": lambda a: a.rot90(1, (0, 1)),
    "tril": lambda a: a.tril(-1),
    "triu": lambda a: a.triu(1),
    "repeat": lambda a: a.repeat(2, 1, 3),
    "repeat_interleave": lambda a: a.repeat_interleave(2, dim=0),
    "repeat_interleave_tensor": lambda a: a.repeat_interleave(torch.tensor([1, 0, 2], device=a.device), dim=0),
    "tile": lambda a: a.tile((2,)),
    "flatten": lambda a: a.t().flatten(),
    "diag": lambda a: a.diag(1),
    "diag_embed": lambda a: torch.diag_embed(a),
    "diagflat": lambda a: a[0].diagflat(),
    "narrow_copy": lambda a: a.narrow_copy(1, 1, 2),
    "broadcast_to": lambda a: a[0].broadcast_to(2, 3, 4),
    "expand_copy": lambda a: a[:, :1].expand(3, 4).clone(),
    "contiguous_t": lambda a: a.t().contiguous(),
    "where": lambda a: torch.where(a > 4, a, -a),
    "clamp": lambda a: a.clamp(2, 8),
    "pad_constant": lambda a: torch.nn.functional.pad(a, (1, 2, 0, 1), value=3),
    "pad_reflect": lambda a: torch.nn.functional.pad(a[None].float(), (2, 1), mode="reflect"),
    "pad_replicate": lambda a: torch.nn.functional.pad(a[None].float(), (1, 1), mode="replicate"),
    "meshgrid": lambda a: torch.stack(torch.meshgrid(a[0], a[:, 0], indexing="ij")),
    "block_diag": lambda a: torch.block_diag(a, a[:1]),
    "cartesian_prod": lambda a: torch.cartesian_prod(a[0], a[1, :2]),
    "unique": lambda a: torch.unique(a % 3),
    "unique_inverse": lambda a: torch.stack([torch.unique(a % 3, return_inverse=True)[1].flatten()]),
    "unique_consecutive": lambda a: torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 3, 1], device=a.device)),
    "bincount": lambda a: torch.bincount(a.flatten().long() % 5),
    "tensor_split_indices": lambda a: torch.cat(a.tensor_split([1, 3], dim=1), dim=1),
    "atleast_3d": lambda a: torch.atleast_3d(a),
}


class TestShapeOps(TestCase):
    @dtypes(torch.float32, torch.int64, torch.float16)
    def test_shape_ops_match_cpu(self, device, dtype):
        c = torch.arange(12).reshape(3, 4).to(dtype)
        d = c.to(device)
        for name, op in SHAPE_OPS.items():
            if dtype == torch.float16 and name in ("bincount", "unique_inverse"):
                continue
            self.assertEqual(op(d), op(c), msg=name)

    def test_channels_last(self, device):
        c = torch.randn(2, 3, 4, 5)
        d = c.to(device).to(memory_format=torch.channels_last)
        self.assertTrue(d.is_contiguous(memory_format=torch.channels_last))
        self.assertEqual(d.stride(), c.to(memory_format=torch.channels_last).stride())
        self.assertEqual((d * 2).stride(), d.stride())  # elementwise ops keep the layout
        self.assertEqual(d, c)

    def test_split_sizes_and_unbind(self, device):
        c = torch.arange(10.0)
        d = c.to(device)
        for x, y in zip(d.split([3, 3, 4]), c.split([3, 3, 4])):
            self.assertEqual(x, y)
        self.assertEqual(len(d.reshape(2, 5).unbind(1)), 5)

    def test_errors_match(self, device):
        a = torch.zeros(2, 3, device=device)
        with self.assertRaisesRegex(RuntimeError, "Sizes of tensors must match"):
            torch.cat([a, torch.zeros(3, 3, device=device)], dim=1)
        with self.assertRaisesRegex(RuntimeError, "stack expects each tensor to be equal size"):
            torch.stack([a, torch.zeros(3, 3, device=device)])
        with self.assertRaisesRegex(RuntimeError, "expanded size"):
            a.expand(4, 4)


instantiate_device_type_tests(TestShapeOps, globals(), only_for=DEVICES)

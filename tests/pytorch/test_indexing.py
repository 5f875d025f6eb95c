"""Indexing: basic and advanced reads and writes, with index tensors and masks on the device and on
the CPU (which CPU and CUDA both accept for advanced indexing), the index_* / scatter / gather
families, and the errors PyTorch raises for bad indices."""
import torch
from torch.testing._internal.common_device_type import dtypes, instantiate_device_type_tests
from torch.testing._internal.common_utils import TestCase

from pytorch_devices import DEVICES, cpu


def _ref(device):
    return torch.arange(60, dtype=torch.float32).reshape(3, 4, 5).to(device)


class TestIndexing(TestCase):
    def test_basic_indexing(self, device):
        t, c = _ref(device), _ref("cpu")
        for key in [0, -1, (1, 2), (slice(None), 1), (Ellipsis, 2), (0, Ellipsis, 2), (None, 1),
                    (slice(1, None, 2), slice(0, 4, 3)),
                    (2, 3, 4), (Ellipsis, None)]:
            self.assertEqual(t[key], c[key], msg=str(key))

    def test_advanced_indexing_with_device_and_cpu_indices(self, device):
        t, c = _ref(device), _ref("cpu")
        keys = [
            (torch.tensor([2, 0, 2]),),
            (torch.tensor([[0, 1], [2, 2]]), slice(None), torch.tensor([4, 0])),
            (slice(None), torch.tensor([3, 1])),
            (Ellipsis, torch.tensor([0, 4, 4])),
            (torch.tensor([True, False, True]),),
            (c > 30,),
            (1, c[0] > 7),
            (torch.tensor([-1, -3]),),
            (torch.tensor([], dtype=torch.long),),
        ]
        for key in keys:
            expected = c[key]
            self.assertEqual(t[key], expected, msg=f"cpu indices {key}")
            on_device = tuple(k.to(device) if isinstance(k, torch.Tensor) else k for k in key)
            self.assertEqual(t[on_device], expected, msg=f"device indices {key}")

    def test_advanced_index_assignment(self, device):
        for accumulate in (False, True):
            t, c = _ref(device), _ref("cpu")
            idx = torch.tensor([0, 2, 0])
            vals = torch.arange(15.0).reshape(3, 5)
            t.index_put_((idx, torch.tensor([1, 1, 1])), vals.to(device), accumulate=accumulate)
            c.index_put_((idx, torch.tensor([1, 1, 1])), vals, accumulate=accumulate)
            if accumulate:
                self.assertEqual(t, c)
            else:  # duplicate indices: which write wins is unspecified; the others are exact
                self.assertEqual(t[1], c[1])
        t, c = _ref(device), _ref("cpu")
        mask = c > 40
        t[mask] = -1.0
        c[mask] = -1.0
        t[torch.tensor([1])] = 7.0
        c[torch.tensor([1])] = 7.0
        t[..., torch.tensor([0, 2]).to(device)] = torch.tensor([8.0, 9.0], device=device)
        c[..., torch.tensor([0, 2])] = torch.tensor([8.0, 9.0])
        self.assertEqual(t, c)

    def test_cpu_values_for_index_put_raise(self, device):
        if torch.device(device).type == "cpu":
            return
        b = torch.zeros(5, device=device)
        for accumulate in (False, True):
            with self.assertRaises(RuntimeError):
                torch.index_put_(b, (torch.tensor([0, 1]),), torch.tensor([1.0, 2.0]), accumulate=accumulate)

    @dtypes(torch.float32, torch.int64, torch.bfloat16)
    def test_index_family(self, device, dtype):
        src = torch.arange(20).reshape(4, 5).to(dtype)
        d = src.to(device)
        idx = torch.tensor([3, 0, 3])
        for i in (idx, idx.to(device)):
            self.assertEqual(d.index_select(0, idx.to(device)), src.index_select(0, idx))
            self.assertEqual(d.index_fill(1, i, 2), src.index_fill(1, idx, 2))
        self.assertEqual(d.index_add(0, idx.to(device), torch.ones(3, 5, dtype=dtype, device=device)),
                         src.index_add(0, idx, torch.ones(3, 5, dtype=dtype)))
        self.assertEqual(d.index_copy(0, torch.tensor([1, 2], device=device), d[:2]),
                         src.index_copy(0, torch.tensor([1, 2]), src[:2]))
        flat = torch.tensor([0, 7, 19])
        self.assertEqual(d.take(flat.to(device)), src.take(flat))
        self.assertEqual(d.clone().put_(flat.to(device), torch.zeros(3, dtype=dtype, device=device)),
                         src.clone().put_(flat, torch.zeros(3, dtype=dtype)))

    @dtypes(torch.float32, torch.int32)
    def test_gather_scatter(self, device, dtype):
        src = torch.arange(12).reshape(3, 4).to(dtype)
        index = torch.tensor([[0, 1, 2, 0], [2, 2, 1, 0]])
        d, di = src.to(device), index.to(device)
        self.assertEqual(d.gather(0, di), src.gather(0, index))
        self.assertEqual(torch.zeros(3, 4, dtype=dtype, device=device).scatter(0, di, d[:2]),
                         torch.zeros(3, 4, dtype=dtype).scatter(0, index, src[:2]))
        self.assertEqual(torch.zeros(3, 4, dtype=dtype, device=device).scatter_add(0, di, d[:2]),
                         torch.zeros(3, 4, dtype=dtype).scatter_add(0, index, src[:2]))
        for reduce in ("sum", "prod", "amax", "amin", "mean"):
            self.assertEqual(d.clone().scatter_reduce(0, di, d[:2], reduce),
                             src.clone().scatter_reduce(0, index, src[:2], reduce), msg=reduce)
        self.assertEqual(d.gather(1, di[:, :2]), src.gather(1, index[:, :2]))
        self.assertEqual(torch.take_along_dim(d[:2], di[:, :2], dim=1), torch.take_along_dim(src[:2], index[:, :2], dim=1))

    def test_masked_ops(self, device):
        c = torch.randn(4, 5)
        d = c.to(device)
        mask = c > 0
        for m in (mask, mask.to(device)):
            if torch.device(device).type != "cpu" and m.device.type == "cpu":
                continue  # masked_* ops require the mask on the tensor's device (as CUDA does)
            self.assertEqual(d.masked_fill(m, 3.0), c.masked_fill(mask, 3.0))
            self.assertEqual(d.masked_select(m), c.masked_select(mask))
            self.assertEqual(d.masked_scatter(m, torch.arange(20.0, device=device).reshape(4, 5)),
                             c.masked_scatter(mask, torch.arange(20.0).reshape(4, 5)))

    def test_nonzero_and_where(self, device):
        c = torch.tensor([[0, 1, 0], [2, 0, 3]])
        d = c.to(device)
        self.assertEqual(d.nonzero(), c.nonzero())
        self.assertEqual(torch.nonzero(d, as_tuple=True), torch.nonzero(c, as_tuple=True))
        self.assertEqual(torch.where(d > 0), torch.where(c > 0))
        self.assertEqual(torch.argwhere(d), torch.argwhere(c))

    def test_out_of_range_indices_raise(self, device):
        t = _ref(device)
        with self.assertRaisesRegex(IndexError, "out of range|out of bounds"):
            t[5]
        with self.assertRaisesRegex(IndexError, "too many indices"):
            t[0, 0, 0, 0]
        with self.assertRaisesRegex(IndexError, "shape of the mask"):
            t[torch.tensor([True, False])]
        with self.assertRaises((IndexError, RuntimeError)):
            t[torch.tensor([7])].cpu()

    def test_zero_dim_and_empty(self, device):
        s = torch.tensor(10, device=device)
        self.assertEqual(s[()], 10)
        self.assertEqual(s[None].shape, (1,))
        with self.assertRaisesRegex(IndexError, "invalid index"):
            s[0]
        e = torch.empty(0, 3, device=device)
        self.assertEqual(e[torch.tensor([], dtype=torch.long)].shape, (0, 3))
        self.assertEqual(e[e.sum(1) > 0].shape, (0, 3))

    def test_indexing_gradients(self, device):
        x = torch.randn(4, 5, device=device, requires_grad=True)
        xc = cpu(x).requires_grad_()
        idx = torch.tensor([0, 3, 0])
        for t, i in ((x, idx.to(device)), (xc, idx)):
            (t[i, 1:].sum() + t[t > 0].sum()).backward()
        self.assertEqual(x.grad, xc.grad)


instantiate_device_type_tests(TestIndexing, globals(), only_for=DEVICES)

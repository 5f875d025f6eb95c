"""What a backend's Python kernels return is checked by the router (csrc/shim/result_checks.h):
each wrong return is a RuntimeError naming the backend, the op, the arguments and what to do,
instead of a wrong value travelling on. A kernel's SystemExit or KeyboardInterrupt ends the call,
not the program. Correct returns (in-place ops returning their argument, data-dependent shapes,
C kernels) pass untouched."""
from __future__ import annotations

import itertools

import pytest
import torch

import deeplink
from deeplink.kernels import PythonKernel

_names = itertools.count()


def host(t):
    return deeplink.host_view(t) if isinstance(t, torch.Tensor) and t.device.type == "deeplink" else t


def on_device(t):
    return torch.from_numpy(t.numpy().copy()).to("deeplink")


def good_add(self, other, alpha=1):
    return on_device(host(self) + alpha * host(other))


@pytest.fixture
def backend():
    """use(table) makes a fresh plugin backend whose kernels are `table` the active one."""
    from plugins.hostbackend import TableBackend
    previous = deeplink.current_backend()

    def use(table):
        name = f"bad-results-{next(_names)}"
        deeplink.register_backend(TableBackend(name, {op: PythonKernel(fn) for op, fn in table.items()}))
        deeplink.use(name)
        return name
    deeplink.set_fallback_mode("silent")  # the plugins lack most ops: their fallbacks are not the point
    yield use
    deeplink.set_fallback_mode("warn")
    deeplink.set_argument_checks(True)
    deeplink.set_force_fallback(None)
    deeplink.use(previous)


def _xy():
    return torch.ones(4, device="deeplink"), torch.full((4,), 2.0, device="deeplink")


def _raises(name, call, *phrases):
    with pytest.raises(RuntimeError) as info:
        call()
    message = str(info.value)
    for p in (f"deeplink backend '{name}'", *phrases):
        assert p in message, f"{p!r} not in: {message}"
    return message


def test_wrong_device(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: torch.ones(4)})
    x, y = _xy()
    message = _raises(name, lambda: x + y, "aten::add.Tensor", "Float[4] on cpu", "must be on the deeplink device")
    # it names the arguments and what to do
    assert "self: Float[4] on deeplink:0, other: Float[4] on deeplink:0" in message
    assert "report it to the backend's vendor" in message and r"DEEPLINK_FORCE_FALLBACK='^add\.Tensor$'" in message


def test_the_advice_works(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: torch.ones(4)})
    x, y = _xy()
    _raises(name, lambda: x + y, "aten::add.Tensor")
    deeplink.set_force_fallback(r"^add\.Tensor$")
    assert (x + y).cpu().tolist() == [3.0] * 4


def test_wrong_shape(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: torch.ones(2, device="deeplink")})
    x, y = _xy()
    _raises(name, lambda: x + y, "Float[2]", "where ATen gives Float[4]", "(wrong shape)")


def test_wrong_dtype(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: torch.ones(4, dtype=torch.float64, device="deeplink")})
    x, y = _xy()
    _raises(name, lambda: x + y, "Double[4]", "where ATen gives Float[4]", "(wrong dtype)")


def test_none_for_a_tensor(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: None})
    x, y = _xy()
    _raises(name, lambda: x + y, "returned None", "where a tensor is due")


@pytest.mark.parametrize("result, phrase", [
    (lambda self: torch.ones((), device="deeplink"), "returned one Tensor where 2 values are due"),
    (lambda self: (torch.ones((), device="deeplink"),) * 3, "returned 3 values where the schema has 2"),
    (lambda self: (torch.ones((), device="deeplink"), "indices"), "returned str as result 1 where the schema has Tensor"),
])
def test_wrong_number_or_type_of_results(backend, result, phrase):
    name = backend({"max.dim": lambda self, dim, keepdim=False: result(self)})
    x, _ = _xy()
    _raises(name, lambda: x.max(0), "aten::max.dim", phrase)


def test_tuple_for_one_tensor(backend):
    name = backend({"add.Tensor": lambda self, other, alpha=1: (good_add(self, other), good_add(self, other))})
    x, y = _xy()
    _raises(name, lambda: x + y, "returned tuple where the schema has Tensor")


def test_functional_op_returning_its_input(backend):
    def add_into_self(self, other, alpha=1):
        host(self).add_(host(other))
        return self
    name = backend({"add.Tensor": add_into_self})
    x, y = _xy()
    _raises(name, lambda: x + y, "returned its input `self` itself")


def test_functional_op_returning_a_view_of_its_input(backend):
    name = backend({"mul.Tensor": lambda self, other: self.view(2, 2).view(4)})
    x, y = _xy()
    _raises(name, lambda: x * y, "returned a view of its input `self`")


def test_inplace_op_returning_a_new_tensor(backend):
    name = backend({"add_.Tensor": lambda self, other, alpha=1: good_add(self, other)})
    x, y = _xy()
    _raises(name, lambda: x.add_(y), "returned a new tensor", "in-place / out= op", "write into `self`")


def test_out_op_returning_a_new_tensor(backend):
    name = backend({"mul.out": lambda self, other, *, out: on_device(host(self) * host(other))})
    x, y = _xy()
    _raises(name, lambda: torch.mul(x, y, out=torch.empty(4, device="deeplink")), "aten::mul.out",
            "returned a new tensor", "write into `out`")


def test_out_op_not_resizing_its_output(backend):
    def mul_out(self, other, *, out):  # writes the first elements of an empty out=, never resizes it
        return out
    name = backend({"mul.out": mul_out})
    x, y = _xy()
    _raises(name, lambda: torch.mul(x, y, out=torch.empty(0, device="deeplink")), "Float[0]",
            "where ATen gives Float[4]")


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()])
def test_kernel_ending_the_program(backend, exc):
    def kernel(self, other, alpha=1):
        raise exc
    name = backend({"add.Tensor": kernel})
    x, y = _xy()
    message = _raises(name, lambda: x + y, "aten::add.Tensor", f"raised {type(exc).__name__}",
                      "a kernel must not end the program")
    assert "vendor" in message
    assert (x * y).cpu().tolist() == [2.0] * 4  # the process and the device go on


def test_correct_results_pass(backend):
    def add_(self, other, alpha=1):
        host(self).add_(host(other), alpha=alpha)
        return self

    def mul_out(self, other, *, out):
        out.resize_(torch.broadcast_shapes(self.shape, other.shape))
        host(out).copy_(host(self) * host(other))
        return out

    def nonzero(self):  # the shape depends on the data: the meta run cannot know it
        return on_device(torch.nonzero(host(self)))

    def masked_select(self, mask):
        return on_device(torch.masked_select(host(self), host(mask)))

    def max_dim(self, dim, keepdim=False):
        v, i = torch.max(host(self), dim, keepdim)
        return on_device(v), on_device(i)
    backend({"add.Tensor": good_add, "add_.Tensor": add_, "mul.out": mul_out, "nonzero": nonzero,
             "masked_select": masked_select, "max.dim": max_dim})
    x, y = _xy()
    assert (x + y).cpu().tolist() == [3.0] * 4
    assert x.add_(y) is x and x.cpu().tolist() == [3.0] * 4
    out = torch.empty(0, device="deeplink")
    assert torch.mul(x, y, out=out) is out and out.cpu().tolist() == [6.0] * 4
    z = torch.tensor([0.0, 1.0, 0.0, 2.0], device="deeplink")
    assert z.nonzero().cpu().tolist() == [[1], [3]]
    assert z.masked_select(z > 0).cpu().tolist() == [1.0, 2.0]
    values, indices = torch.ones(3, 2, device="deeplink").max(0)
    assert values.shape == (2,) and indices.dtype == torch.int64


def test_checks_off_still_checks_what_needs_no_meta_run(backend):
    """Without argument checks there is no meta run to compare with: device, count, type and
    aliasing are still checked; dtype and shape are not."""
    name = backend({"add.Tensor": lambda self, other, alpha=1: torch.ones(4),
                    "sub.Tensor": lambda self, other, alpha=1: torch.ones(2, device="deeplink")})
    deeplink.set_argument_checks(False)
    x, y = _xy()
    _raises(name, lambda: x + y, "must be on the deeplink device")
    assert (x - y).shape == (2,)


def test_c_kernel_results_pass(backend, test_kernels):
    """C kernels called from C++ get outputs the router made; those are checked too, and pass."""
    from deeplink.ckernel import CKernel
    from plugins.hostbackend import TableBackend
    name = f"bad-results-{next(_names)}"
    deeplink.register_backend(TableBackend(name, {
        "add.Tensor": CKernel(test_kernels, "t_add", "add.Tensor", "out, self, other, double alpha")}))
    deeplink.use(name)
    x, y = _xy()
    assert (x + y).cpu().tolist() == [3.0] * 4
    assert (x[:, None] + y).shape == (4, 4)

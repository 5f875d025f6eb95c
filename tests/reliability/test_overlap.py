"""ATen's memory-overlap and aliasing checks fire on deeplink exactly as on the CPU, whichever way
the op runs: Passthrough (cpu backend), a backend's Python kernel, a C kernel, a decomposition,
or the CPU fallback. Every case runs the same program on CPU tensors and on deeplink tensors and
compares: the same exception class, or the same values."""
from __future__ import annotations

import pytest
import torch

import deeplink
from deeplink.kernels import PythonKernel


def _add_(self, other, alpha=1):
    deeplink.host_view(self).add_(deeplink.host_view(other), alpha=alpha)
    return self


def _mul_out(self, other, *, out):
    deeplink.host_view(out).copy_(deeplink.host_view(self) * deeplink.host_view(other))
    return out


def _index_select_out(self, dim, index, *, out):
    deeplink.host_view(out).copy_(deeplink.host_view(self).index_select(dim, deeplink.host_view(index)))
    return out


def _python_backend():
    """A plugin whose kernels are Python, writing through host views: they check nothing
    themselves, so any overlap error has to come from deeplink. Ops it lacks fall back."""
    from plugins.hostbackend import ensure
    return ensure("overlap-python", lambda: {"add_.Tensor": PythonKernel(_add_), "mul.out": PythonKernel(_mul_out),
                                             "index_select.out": PythonKernel(_index_select_out)})


def _ckernel_backend(test_kernels):
    from deeplink.ckernel import CKernel
    from plugins.hostbackend import ensure
    return ensure("overlap-c", lambda: {
        "add_.Tensor": CKernel(test_kernels, "t_add", "add_.Tensor", "out, self, other, double alpha",
                               outputs="into:self")})


def _fallback_backend():
    """No kernels at all: every op goes to the CPU fallback."""
    from plugins.hostbackend import ensure
    return ensure("overlap-fallback", lambda: {})


# (name, program): each program gets a tensor factory for one device and returns tensors to compare.
def _inplace_shifted(make):
    x = make(torch.arange(1.0, 10.0))
    x[1:].add_(x[:-1])
    return x


def _inplace_same(make):
    x = make(torch.arange(1.0, 10.0))
    x.add_(x)  # full overlap of the same tensor is fine
    return x


def _inplace_expanded(make):
    x = make(torch.zeros(1, 3)).expand(2, 3)
    x.add_(make(torch.ones(2, 3)))
    return x


def _out_overlaps_input(make):
    a = make(torch.arange(8.0))
    torch.mul(a[:6], a[2:], out=a[1:7])
    return a


def _out_is_input(make):
    a = make(torch.arange(8.0))
    torch.mul(a, a, out=a)  # out= the same tensor as the inputs: allowed
    return a


def _index_select_into_input(make):
    a = make(torch.arange(12.0).reshape(3, 4))
    torch.index_select(a, 0, make(torch.tensor([2, 0])), out=a[:2])
    return a


def _cat_out_overlaps(make):
    y, z = make(torch.randn(4, 6, generator=torch.Generator().manual_seed(0))), make(torch.zeros(4, 6))
    torch.cat((y, z), out=z[:2])
    return z


def _copy_shifted(make):
    x = make(torch.arange(1.0, 10.0))
    x[1:].copy_(x[:-1])
    return x


def _copy_expanded(make):
    x = make(torch.zeros(1, 3)).expand(2, 3)
    x.copy_(make(torch.ones(2, 3)))
    return x


def _copy_same(make):
    x = make(torch.arange(4.0))
    x.copy_(x)
    return x


PROGRAMS = {f.__name__.lstrip("_"): f for f in (
    _inplace_shifted, _inplace_same, _inplace_expanded, _out_overlaps_input, _out_is_input, _index_select_into_input,
    _cat_out_overlaps, _copy_shifted, _copy_expanded, _copy_same)}


def _outcome(program, make):
    try:
        out = program(make)
        return "ok", out.cpu() if out.device.type != "cpu" else out
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__, str(e).split(".")[0]


def _compare(name):
    program = PROGRAMS[name]
    want_kind, want = _outcome(program, lambda t: t.clone())
    got_kind, got = _outcome(program, lambda t: t.to("deeplink"))
    assert got_kind == want_kind, f"{name}: CPU gives {want_kind} ({want}), deeplink gives {got_kind} ({got})"
    if want_kind == "ok":
        torch.testing.assert_close(got, want)
    else:
        assert got == want, f"{name}: messages differ"


@pytest.fixture
def backend(request, test_kernels):
    previous = deeplink.current_backend()
    make = {"cpu": lambda: None, "python": _python_backend, "c": lambda: _ckernel_backend(test_kernels),
            "fallback": _fallback_backend}[request.param]
    make()
    deeplink.use("cpu" if request.param == "cpu" else {"python": "overlap-python", "c": "overlap-c",
                                                         "fallback": "overlap-fallback"}[request.param])
    deeplink.set_fallback_mode("silent")
    yield request.param
    deeplink.set_fallback_mode("warn")
    deeplink.use(previous)


@pytest.mark.parametrize("backend", ["cpu", "python", "c", "fallback"], indirect=True)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_overlap_like_cpu(backend, name):
    _compare(name)


def test_python_kernel_is_not_called_on_overlap(test_kernels):
    """The check runs before the kernel: a refused call leaves memory as it was."""
    calls = []

    def spy(self, other, alpha=1):
        calls.append(1)
        return _add_(self, other, alpha)
    from plugins.hostbackend import ensure
    ensure("overlap-spy", lambda: {"add_.Tensor": PythonKernel(spy)})
    previous = deeplink.current_backend()
    deeplink.use("overlap-spy")
    try:
        x = torch.arange(1.0, 10.0, device="deeplink")
        with pytest.raises(RuntimeError, match="unsupported operation"):
            x[1:].add_(x[:-1])
        assert calls == [] and x.cpu().tolist() == list(range(1, 10))
        x[5:].add_(x[:4])  # disjoint parts of one storage: fine, and the kernel runs
        assert calls == [1] and x.cpu().tolist()[5:] == [7.0, 9.0, 11.0, 13.0]
    finally:
        deeplink.use(previous)

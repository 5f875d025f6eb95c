"""A cached argument-check verdict never changes an outcome (csrc/shim/check_cache.h).

Every program here runs on the CPU, and on a plugin of Python kernels (host views, which check
nothing themselves) with the verdict cache off and on, each twice in a row and in several orders:
the outcome (exception class and message, or values) is the CPU's every time. The cases are the
ones a wrong key would get wrong: calls that must raise after a call of the same shapes was
accepted, overlap between arguments, shapes and strides that differ by one number, scalars whose
value or Python type changes the result type, and data-dependent errors (index values), which
are the kernel's, never the cache's."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import deeplink
from deeplink import _C
from deeplink.kernels import PythonKernel

def host(t):
    """A kernel's view of an argument: deeplink memory seen from the host; CPU scalars as they are."""
    return deeplink.host_view(t) if isinstance(t, torch.Tensor) and t.device.type == "deeplink" else t


def _to_device(t):
    return torch.from_numpy(t.numpy().copy()).to("deeplink") if t.device.type == "cpu" else t


def _add(self, other, alpha=1):
    return _to_device(host(self) + (host(other) if alpha == 1 else alpha * host(other)))


def _add_(self, other, alpha=1):
    host(self).add_(host(other), alpha=alpha)
    return self


def _mul_out(self, other, *, out):
    host(out).copy_(host(self) * host(other))
    return out


def _index_select(self, dim, index):
    return _to_device(host(self).index_select(dim, host(index)))


def _gather(self, dim, index, *, sparse_grad=False):
    return _to_device(torch.gather(host(self), dim, host(index)))


def _mm(self, mat2):
    return _to_device(host(self) @ host(mat2))


KERNELS = {"add.Tensor": _add, "add_.Tensor": _add_, "mul.out": _mul_out, "index_select": _index_select,
           "gather": _gather, "mm": _mm}


@pytest.fixture
def python_backend():
    from plugins.hostbackend import ensure
    ensure("check-cache", lambda: {k: PythonKernel(f) for k, f in KERNELS.items()})
    previous = deeplink.current_backend()
    deeplink.use("check-cache")
    deeplink.set_fallback_mode("silent")
    yield
    _C._set_check_cache(True)
    deeplink.set_fallback_mode("warn")
    deeplink.use(previous)


# Programs: fn(make) -> tensor; `make` puts a CPU tensor on the device under test.
def _same_shapes_then_overlap(make):
    a, b = make(torch.arange(1.0, 10.0)), make(torch.arange(1.0, 10.0))
    a[1:].add_(b[:-1])            # two storages: accepted
    a[1:].add_(a[:-1])            # the same shapes, strides and offsets on one storage: must raise
    return a


def _overlap_then_disjoint(make):
    a = make(torch.arange(1.0, 10.0))
    try:
        a[1:].add_(a[:-1])
    except RuntimeError:
        pass
    a[5:].add_(a[:4])             # disjoint parts of one storage: allowed
    return a


def _out_overlap_after_fine(make):
    a, o = make(torch.arange(8.0)), make(torch.zeros(8))
    torch.mul(a[:6], a[2:], out=o[1:7])
    torch.mul(a[:6], a[2:], out=a[1:7])   # same metadata, but out= overlaps the inputs
    return a


def _shape_mismatch_after_fine(make):
    x = make(torch.ones(4))
    x + make(torch.ones(4))
    x + make(torch.ones(4, 1))    # broadcasts to (4, 4)
    return x + make(torch.ones(3))  # must raise, every time


def _strides_differ(make):
    a = make(torch.arange(12.0).reshape(3, 4))
    r1 = a @ make(torch.ones(4, 2))
    return torch.cat([r1, a.t() @ make(torch.ones(3, 2))])  # (4, 3) transposed: accepted, different shape


def _mm_bad_after_good(make):
    a = make(torch.ones(3, 4))
    a @ make(torch.ones(4, 2))
    return a @ make(torch.ones(3, 2))  # inner sizes differ


def _scalars(make):
    i = make(torch.arange(4))             # int64
    r = [i + 2, i + 2.5, i + True, i + 3]  # the wrapped number's type and value decide the result
    return torch.cat([t.to(torch.float64) for t in r] + [torch.tensor([float(t.dtype.is_floating_point) for t in r],
                                                                       dtype=torch.float64).to(i.device)])


def _dtype_error_after_fine(make):
    x, y = make(torch.ones(4)), make(torch.ones(4))
    torch.mul(x, y, out=make(torch.zeros(4)))
    torch.mul(x, y, out=make(torch.zeros(4, dtype=torch.int64)))  # result type Float can't be cast to Long
    return x


def _index_out_of_range(make):
    x = make(torch.arange(10.0))
    x.index_select(0, make(torch.tensor([1, 2])))
    return x.index_select(0, make(torch.tensor([1, 20])))  # same signature, a value out of range


def _gather_out_of_range(make):
    x = make(torch.arange(6.0).reshape(2, 3))
    torch.gather(x, 1, make(torch.tensor([[0, 1], [2, 0]])))
    return torch.gather(x, 1, make(torch.tensor([[0, 1], [5, 0]])))


def _gather_bad_dims(make):
    x = make(torch.arange(6.0).reshape(2, 3))
    return torch.gather(x, 1, make(torch.tensor([0, 1])))  # index of another rank


PROGRAMS = {f.__name__.lstrip("_"): f for f in (
    _same_shapes_then_overlap, _overlap_then_disjoint, _out_overlap_after_fine, _shape_mismatch_after_fine,
    _strides_differ, _mm_bad_after_good, _scalars, _dtype_error_after_fine, _index_out_of_range,
    _gather_out_of_range, _gather_bad_dims)}


def _outcome(program, make):
    try:
        out = program(make)
        return "ok", out.cpu()
    except Exception as e:  # noqa: BLE001 - the class and message are what is compared
        return type(e).__name__, str(e).split("\n")[0][:80]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cached_verdicts_keep_outcomes(python_backend, name):
    program = PROGRAMS[name]
    want = _outcome(program, lambda t: t.clone())
    for cache in (False, True, True):   # off; on (filling); on (from the cache)
        _C._set_check_cache(cache)
        got = _outcome(program, _to_device)
        assert got[0] == want[0], f"{name}, cache {'on' if cache else 'off'}: CPU gives {want}, deeplink {got}"
        if want[0] == "ok":
            torch.testing.assert_close(got[1], want[1])
        else:
            assert got[1] == want[1], f"{name}: messages differ"


def test_all_programs_in_one_cache(python_backend):
    """Every program after every other, on one cache: no verdict of one leaks into another."""
    want = {n: _outcome(p, lambda t: t.clone()) for n, p in PROGRAMS.items()}
    for order in (sorted(PROGRAMS), sorted(PROGRAMS, reverse=True)):
        for name in order:
            got = _outcome(PROGRAMS[name], _to_device)
            assert got[0] == want[name][0] and (got[0] != "ok" or torch.equal(got[1], want[name][1])), name


def test_what_is_cached(python_backend):
    x, y = torch.ones(4, device="deeplink"), torch.ones(4, device="deeplink")
    _C._set_check_cache(False)                # off empties it
    _C._set_check_cache(True)
    assert _C._check_cache_size() == 0
    x + y
    assert _C._check_cache_size() == 1
    x + y
    torch.ones(4, device="deeplink") + torch.ones(4, device="deeplink")  # new tensors, same signature
    assert _C._check_cache_size() == 1
    x + torch.ones(4, 1, device="deeplink")   # another shape
    x + 2.0
    x + 3.0                                   # another scalar value
    assert _C._check_cache_size() == 4
    with pytest.raises(RuntimeError):
        x + torch.ones(3, device="deeplink")  # refused: never cached
    assert _C._check_cache_size() == 4
    x + torch.ones(8, device="deeplink")[::2]  # other strides and storage size
    assert _C._check_cache_size() == 5
    x.index_select(0, torch.tensor([0, 1], device="deeplink"))
    x.index_select(0, torch.tensor([2, 3], device="deeplink"))  # index values are not in the key
    assert _C._check_cache_size() == 6
    deeplink.use("cpu")                       # verdicts do not depend on the backend or policies: kept
    deeplink.set_fallback_mode("warn")
    deeplink.use("check-cache")
    assert _C._check_cache_size() == 6
    x + y
    assert _C._check_cache_size() == 6


def test_cache_off(python_backend):
    _C._set_check_cache(False)
    torch.ones(4, device="deeplink") + torch.ones(4, device="deeplink")
    assert _C._check_cache_size() == 0 and not _C._check_cache_enabled()


def test_bounded(python_backend):
    x = torch.ones(1, device="deeplink")
    for n in range(1, 4200):                 # more signatures than the cache holds
        x.expand(n) + x.expand(n)
    assert 0 < _C._check_cache_size() <= 4096


def test_env_turns_it_off():
    code = ("import deeplink, torch; from deeplink import _C; torch.ones(2, device='deeplink') + 1; "
            "print(_C._check_cache_enabled(), _C._check_cache_size())")
    env = dict(os.environ, DEEPLINK_CHECK_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "0"], out.stderr[-2000:]

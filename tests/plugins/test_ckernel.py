"""deeplink.ckernel.CKernel in this process, over tests/plugins/ckernels_test.c: what C receives,
argument kinds, output modes, and what each status code does."""
import sys
import warnings

import pytest
import torch

import deeplink
from deeplink.ckernel import (CKernel, CKernelError, DEEPLINK_DEVICE_TYPE, DTYPE_CODES, KDL_CPU, KernelLibrary,
                              build_library, load_library)

from . import hostbackend
from .plugin_env import HERE

BACKEND = "ctest"


def _table(lib):
    return {
        "add.Tensor": CKernel(lib, "t_add", "add.Tensor", "out, self, other, double alpha"),
        "add_.Tensor": CKernel(lib, "t_add", "add_.Tensor", "out, self, other, double alpha", outputs="into:self"),
        "add.out": CKernel(lib, "t_add", "add.out", "out, self, other, double alpha", outputs="into:out"),
        "clamp.Tensor": CKernel(lib, "t_clamp", "clamp.Tensor", "out, self, min, max"),
        "aminmax": CKernel(lib, "t_aminmax", "aminmax", "out0, out1, self",
                           outputs=lambda self, **kw: [((), self.dtype), ((), self.dtype)]),
        "mul.Tensor": CKernel(lib, "t_describe", "mul.Tensor", "out, self, other",
                              outputs=lambda self, other: ((64,), torch.int64)),
        "sum.dim_IntList": CKernel(lib, "t_echo_dims", "sum.dim_IntList", "out, self, int64_t[] dim, bool keepdim",
                                   outputs=lambda self, dim, keepdim=False, dtype=None: ((len(dim) + 2,), torch.int64)),
        "add.Scalar": CKernel(lib, "t_add_scalar", "add.Scalar", "out, self, float alpha, int64_t other",
                              outputs="like:self"),
        "abs": CKernel(lib, "t_fail", "abs", "out, self", outputs="like:self"),
        "addcmul": CKernel(lib, "t_addcmul_mixed", "addcmul", "out, double value, self, float value, tensor1, tensor2"),
        "addcdiv": CKernel(lib, "t_addcmul_many", "addcdiv",
                           "out, self, tensor1, tensor2, int64_t value, int64_t value, int64_t value"),
        "sub.Tensor": CKernel(lib, "t_add", "sub.Tensor", "out, self, other, double alpha", dtypes={torch.float64}),
    }


@pytest.fixture
def ctest(test_kernels):
    hostbackend.ensure(BACKEND, lambda: _table(test_kernels))
    deeplink.use(BACKEND)
    deeplink.reset_op_stats()
    try:
        yield
    finally:
        deeplink.set_argument_checks(True)
        deeplink.set_fallback_mode("warn")
        deeplink.use("cpu")


def native(op):
    return deeplink.op_stats().get(op, {}).get("native", 0)


def instrument_kernels():
    """t_describe (as mul.Tensor) and t_echo_dims (as sum.dim_IntList) return what C received, not
    the op's result: their int64 vectors are not the dtype and shape ATen gives, which the router
    rejects (docs/reliability.md, section 9) while argument checks, and with them the meta run it
    compares with, are on."""
    deeplink.set_argument_checks(False)


def test_dltensor_fields(ctest):
    instrument_kernels()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6).to("deeplink")
    view = base[1:, 2:].t()  # shape (4, 3), strides (1, 6), storage offset 8
    d = (view * 3).cpu().tolist()  # mul.Tensor -> t_describe(self=view, other=CPU scalar)
    dev, dev_id, ndim, code, bits, lanes, byte_offset, first = d[:8]
    assert (dev, dev_id, ndim) == (DEEPLINK_DEVICE_TYPE, 0, 2)
    assert (code, bits, lanes) == (*DTYPE_CODES[torch.float32], 1)
    assert byte_offset == 8 * 4 and first == view.data_ptr()
    assert d[8:10] == [4, 3] and d[10:12] == [1, 6]
    s = d[32:]
    assert s[0] == KDL_CPU and s[2] == 0 and s[3:6] == [*DTYPE_CODES[torch.int64], 1]  # the wrapped 3
    assert native("mul.Tensor") == 1


def test_add_broadcast_strided_and_alpha(ctest):
    a, b = torch.randn(3, 1, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    r = torch.add(a.to("deeplink"), b.to("deeplink"), alpha=-2.0)
    assert torch.equal(r.cpu(), torch.add(a, b, alpha=-2.0))
    x = torch.randn(5, 4)
    dx = x.to("deeplink")
    assert torch.equal((dx.t() + dx.t()).cpu(), x.t() + x.t())
    assert torch.equal((dx + 1).cpu(), x + 1)  # CPU int scalar cast to float32 for the kernel
    assert native("add.Tensor") == 3 and deeplink.fallback_stats() == {}


def test_inplace_and_out(ctest):
    x, y = torch.randn(2, 3), torch.randn(3)
    dx = x.to("deeplink")
    same = dx.add_(y.to("deeplink"), alpha=2)
    assert same is dx and torch.equal(dx.cpu(), x + 2 * y)
    out = torch.empty(0, device="deeplink")
    torch.add(dx, dx, out=out)
    assert out.shape == (2, 3) and torch.equal(out.cpu(), (x + 2 * y) * 2)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.ones(3).to("deeplink").add_(torch.ones(2, 3).to("deeplink"))
    assert native("add_.Tensor") == 1 and native("add.out") == 1


def test_optional_tensors_become_null(ctest):
    x = torch.linspace(-2, 2, 9)
    lo = torch.full((9,), -1.0)
    dx, dlo = x.to("deeplink"), lo.to("deeplink")
    assert torch.equal(torch.clamp(dx, min=dlo).cpu(), torch.clamp(x, min=lo))
    assert torch.equal(torch.clamp(dx, max=dlo).cpu(), torch.clamp(x, max=lo))
    assert native("clamp.Tensor") == 2


def test_two_outputs_and_not_implemented_declines(ctest):
    x = torch.randn(4, 5)
    lo, hi = torch.aminmax(x.to("deeplink"))
    assert lo.item() == x.min().item() and hi.item() == x.max().item()
    assert native("aminmax") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo, hi = torch.aminmax(x.to("deeplink").t())  # non-contiguous: t_aminmax declines
    assert hi.item() == x.max().item()
    assert deeplink.fallback_stats() == {"aminmax": 1}
    kernel = deeplink._registry.get(BACKEND).kernels()["aminmax"]
    assert kernel.fn.last_declined == ("DL_NOT_IMPLEMENTED", "t_aminmax: contiguous input only")


def test_scalars_of_several_c_types_in_any_order(ctest):
    x = torch.randn(2, 3, dtype=torch.float64)
    r = torch.ops.aten.add.Scalar(x.to("deeplink"), 3, alpha=0.5)
    assert r.dtype == torch.float64 and torch.allclose(r.cpu(), x + 1.5)
    assert native("add.Scalar") == 1


def test_int_list_and_bool_arguments(ctest):
    instrument_kernels()
    x = torch.ones(2, 3, 4).to("deeplink")
    echoed = torch.sum(x, dim=[2, 0], keepdim=True).cpu().tolist()
    assert echoed == [2, 0, 2, 1]  # the dims, their count, keepdim


def test_dtype_not_supported_falls_back_or_raises_per_policy(ctest):
    i = torch.tensor([1, 2], dtype=torch.int16).to("deeplink")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (i + i).cpu().tolist() == [2, 4]
    assert deeplink.fallback_stats() == {"add.Tensor": 1}
    deeplink.set_fallback_mode("error")
    with pytest.raises(NotImplementedError) as e:
        i + i
    for part in ("add.Tensor", "Short", f"'{BACKEND}'"):
        assert part in str(e.value)


def test_failure_raises_with_op_dtypes_shapes_backend_and_c_message(ctest):
    x = torch.randn(2, 3).to("deeplink")
    with pytest.raises(CKernelError) as e:
        torch.abs(x)
    msg = str(e.value)
    for part in ("t_fail", "aten::abs", "DL_INVALID_ARGUMENT", f"'{BACKEND}'", "float32", "[2, 3]",
                 "t_fail: refusing a rank-2 input on purpose"):
        assert part in msg, (part, msg)


def test_kernel_can_be_called_directly_on_the_cpu_backend(test_kernels):
    # A CKernel is a PythonKernel: its fn works on any host-memory deeplink tensors.
    add = CKernel(test_kernels, "t_add", "add.Tensor", "out, self, other, double alpha")
    x = torch.randn(3).to("deeplink")
    assert torch.equal(add.fn(x, x, alpha=0.5).cpu(), x.cpu() * 1.5)
    assert add.impl == "C:t_add" and add.dtypes is None


def test_spec_errors_are_clear(test_kernels):
    with pytest.raises(ValueError, match="'bogus' is not an argument of aten::add"):
        CKernel(test_kernels, "t_add", "add.Tensor", "out, self, bogus")
    with pytest.raises(ValueError, match="alpha.*not a Tensor"):
        CKernel(test_kernels, "t_add", "add.Tensor", "out, self, other, alpha")
    with pytest.raises(ValueError, match="no aten overload named 'add.Nope'"):
        CKernel(test_kernels, "t_add", "add.Nope", "out, self, other")
    with pytest.raises(ValueError, match="outputs='like'"):
        CKernel(test_kernels, "t_add", "add.Tensor", "out, self, other", outputs="like")
    with pytest.raises(CKernelError, match="no symbol 't_missing'"):
        CKernel(test_kernels, "t_missing", "add.Tensor", "out, self, other")


def test_library_checks(tmp_path, test_kernels):
    assert load_library(test_kernels) is load_library(str(test_kernels))  # opened once
    bad = build_library(HERE / "ckernels_bad_abi.c", tmp_path / "libbad.so")
    with pytest.raises(CKernelError, match="built for C kernel ABI 99"):
        KernelLibrary(bad)
    (tmp_path / "plain.c").write_text("int f(void) { return 0; }\n")
    plain = build_library(tmp_path / "plain.c", tmp_path / "libplain.so")
    with pytest.raises(CKernelError, match="does not export dl_kernel_abi_version"):
        KernelLibrary(plain)
    with pytest.raises(CKernelError, match="does not exist"):
        KernelLibrary(tmp_path / "nothere.so")
    with pytest.raises(CKernelError, match="compiling libbroken.so failed"):
        (tmp_path / "broken.c").write_text("this is not C\n")
        build_library(tmp_path / "broken.c", tmp_path / "libbroken.so")


def test_cffi_library_objects(test_kernels):
    import cffi
    own = cffi.FFI()  # an unrelated FFI: its function pointer is re-cast to deeplink's types
    own.cdef("int t_add(void*, void*, void*, double); unsigned int dl_kernel_abi_version(void);"
             "const char* dl_kernel_last_error(void);")
    lib = own.dlopen(str(test_kernels))
    add = CKernel(lib, "t_add", "add.Tensor", "out, self, other, double alpha")
    x = torch.randn(4).to("deeplink")
    assert torch.equal(add.fn(x, x, alpha=1).cpu(), (x + x).cpu())
    with pytest.raises(CKernelError, match="no function 't_nope'"):
        CKernel(lib, "t_nope", "add.Tensor", "out, self, other")


def test_cffi_api_mode_module(tmp_path):
    import importlib.util

    import cffi
    from deeplink.ckernel import include_dir
    builder = cffi.FFI()
    builder.cdef("int t_add(void*, void*, void*, double); unsigned int dl_kernel_abi_version(void);"
                 "const char* dl_kernel_last_error(void);")
    builder.set_source("_t_api_kernels", '#include "ckernels_test.c"', include_dirs=[str(HERE), str(include_dir())],
                       libraries=["m"])
    so = builder.compile(tmpdir=str(tmp_path))
    spec = importlib.util.spec_from_file_location("_t_api_kernels", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    add = CKernel(module, "t_add", "add.Tensor", "out, self, other, double alpha")
    x = torch.randn(5).to("deeplink")
    assert torch.equal(add.fn(x, x, alpha=2).cpu(), x.cpu() * 3)


def test_calls_run_without_a_python_frame(ctest):
    """The router calls C kernels from C++ (csrc/shim/ckernel_route.cpp): no deeplink Python runs
    per call, whatever the argument kinds (optional tensors, scalars of C types in any order,
    wrapped numbers, in-place targets, out=). Kernels with an outputs callable (aminmax, sum here)
    call it, so they keep the Python path."""
    x, y = torch.randn(3, 4).to("deeplink"), torch.randn(4).to("deeplink")
    out = torch.empty(3, 4, device="deeplink")
    calls = [lambda: x + y, lambda: x + 1, lambda: x.add_(y), lambda: torch.add(x, y, out=out),
             lambda: torch.clamp(x, min=y), lambda: torch.ops.aten.add.Scalar(x, 3, alpha=0.5),
             lambda: torch.addcmul(x, y, y, value=2)]
    for call in calls:
        call()                                  # the first call of each op resolves its route in Python
    frames = []

    def profile(frame, event, arg):
        if event == "call":
            frames.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
    sys.setprofile(profile)
    try:
        for call in calls:
            call()
    finally:
        sys.setprofile(None)
    assert [f for f in frames if "/deeplink/" in f] == [], frames


def test_integer_and_floating_arguments_interleaved(ctest):
    s, a, b = torch.randn(5), torch.randn(5), torch.randn(5)
    got = torch.addcmul(s.to("deeplink"), a.to("deeplink"), b.to("deeplink"), value=0.5)
    torch.testing.assert_close(got.cpu(), s + 2 * 0.5 * 0.5 * a * b)   # the kernel: 2 * half * value
    assert native("addcmul") == 1


def test_more_arguments_than_registers_take_the_python_path(ctest):
    s, a, b = torch.randn(5), torch.randn(5), torch.randn(5)
    got = torch.addcdiv(s.to("deeplink"), a.to("deeplink"), b.to("deeplink"), value=2)
    torch.testing.assert_close(got.cpu(), s + 8 * a * b)        # the kernel's v1 * v2 * v3 = 2 ** 3
    assert native("addcdiv") == 1


def test_dtype_list_declines_before_c_is_called(ctest):
    # t_add stands in for sub.Tensor listed for float64 only: a float32 call must never reach it
    # (it would add), and falls back to the CPU, which subtracts.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = torch.tensor([3.0, 5.0]).to("deeplink")
        assert (f - torch.ones(2).to("deeplink")).cpu().tolist() == [2.0, 4.0]
    assert deeplink.fallback_stats() == {"sub.Tensor": 1} and native("sub.Tensor") == 0

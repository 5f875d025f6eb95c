"""Shared helpers of the onnxruntime backend tests (no tests here: the test modules import from
this one, as tests/backends has no conftest of its own)."""
from __future__ import annotations

import contextlib

import pytest
import torch

ort = pytest.importorskip("onnxruntime")

import deeplink  # noqa: E402
from deeplink.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from deeplink.backends.onnxruntime.ops import TABLE as KERNELS  # noqa: E402

F32, F16, BF16, F64 = torch.float32, torch.float16, torch.bfloat16, torch.float64


def ensure_registered():
    """The backend's record: from its entry point when installed, else registered here."""
    try:
        return deeplink._registry.get("onnxruntime")
    except ValueError:
        return deeplink.register_backend(OnnxRuntimeBackend())


@contextlib.contextmanager
def on_onnxruntime(fallback: str = "error"):
    """Make onnxruntime the active backend (fallback mode `fallback`), restoring both after."""
    ensure_registered()
    previous, mode = deeplink.current_backend(), deeplink.fallback_mode()
    deeplink.use("onnxruntime")
    deeplink.set_fallback_mode(fallback)
    try:
        yield
    finally:
        deeplink.set_fallback_mode(mode)
        deeplink.use(previous)


def kernel(name):
    """The Python function behind an aten overload of the backend (callable on CPU tensors)."""
    return KERNELS[name].fn


def aten(name):
    base, _, overload = name.partition(".")
    return getattr(getattr(torch.ops.aten, base), overload or "default")


def tolerance(dtype):
    """assert_close tolerances for comparing with ATen on the CPU: float32 to a few ulps of the
    op's result, reduced precision to one rounding of the result."""
    return {F32: dict(rtol=1e-5, atol=1e-5), F64: dict(rtol=1e-7, atol=1e-7),
            F16: dict(rtol=2e-3, atol=2e-3), BF16: dict(rtol=1.6e-2, atol=1e-2)}.get(
        dtype, dict(rtol=0, atol=0))

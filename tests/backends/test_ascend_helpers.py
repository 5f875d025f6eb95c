"""Shared helpers of the Ascend backend tests (no tests here; the other test_ascend_* modules
import from this one, as tests/backends has no conftest of its own).

The emulator is compiled once (cached under ~/.cache/deeplink/ascend-emulator, or
$DEEPLINK_ASCEND_EMULATOR_CACHE) and loaded through the backend's normal CANN search: the
backend gets its install root, not a special code path. The process environment is left alone,
so selecting the default backend elsewhere in the test session is unaffected.
"""
from __future__ import annotations

import contextlib
import functools
import shutil

import pytest
import torch


def _compiler_or_skip():
    if not (shutil.which("g++") or shutil.which("c++")):
        pytest.skip("no C++ compiler: the Ascend emulator cannot be built")


@functools.lru_cache(maxsize=None)
def emulator_home() -> str:
    _compiler_or_skip()
    from ascend_emulator.build import build
    return str(build())


@functools.lru_cache(maxsize=None)
def emulator():
    from ascend_emulator.probe import Emulator
    return Emulator(emulator_home())


@functools.lru_cache(maxsize=None)
def ascend_record():
    """The emulated Ascend backend, registered with deeplink once per process."""
    import deeplink
    from deeplink.backends.ascend import AscendBackend
    rec = deeplink.register_backend(AscendBackend(home=emulator_home()))
    assert rec.available, rec.reason
    return rec


def ascend_state():
    """(libraries, acl, runtime, aclnn api) of the registered backend."""
    s = ascend_record().backend._state
    return s.libs, s.acl, s.runtime, s.api


@contextlib.contextmanager
def on_ascend(fallback: str = "error"):
    """Runs the block with the ascend backend active and the given fallback mode, then restores."""
    import deeplink
    ascend_record()
    prev, prev_mode = deeplink.current_backend(), deeplink.fallback_mode()
    deeplink.use("ascend")
    deeplink.set_fallback_mode(fallback)
    try:
        yield
    finally:
        deeplink.use(prev)
        deeplink.set_fallback_mode(prev_mode)


def settle_and_check_clean(emu=None):
    """Synchronizes the device and asserts the emulator is quiescent: nothing queued, no hazards,
    and every aclTensor/aclScalar/aclIntArray/aclBoolArray/aclTensorList/executor destroyed."""
    emu = emu or emulator()
    _, _, runtime, _ = ascend_state()
    runtime.synchronize(0)
    state = emu.state()
    assert state["pending_tasks"] == 0, state
    assert state["hazards"] == [], state["hazards"]
    live = emu.live()
    assert all(v == 0 for v in live.values()), f"objects created and never destroyed: {live}"


@functools.lru_cache(maxsize=None)
def host_pointer_runner():
    """An op runner on raw emulated device pointers (no deeplink device involved)."""
    from ascend_emulator.device_tensors import HostPointerContext
    from deeplink.backends.ascend.ops.runner import Runner
    _, _, runtime, api = ascend_state()
    ctx = HostPointerContext(runtime)
    return Runner(api, ctx), ctx


def table_entry(name: str):
    from deeplink.backends.ascend.ops.table import OPS
    return next(op for op in OPS if op.aten == name)


def close(actual, expected, dtype=torch.float32):
    tol = {torch.float32: (1.3e-6, 1e-5), torch.float16: (1e-3, 1e-3), torch.bfloat16: (1.6e-2, 1e-2)}
    rtol, atol = tol.get(dtype, (0, 0))
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, check_dtype=True)

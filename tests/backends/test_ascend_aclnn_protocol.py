"""The aclnn calling protocol, checked on raw emulated device pointers (no deeplink device):

* phase 1 (aclnnXxxGetWorkspaceSize) comes before phase 2 (aclnnXxx), which consumes the
  executor phase 1 returned, exactly once;
* a workspace of the size phase 1 asked for is allocated on the device and handed to phase 2;
* every aclTensor / aclScalar / aclIntArray / aclBoolArray / aclTensorList created for a call is
  destroyed after it, also when the call fails;
* results are read only after the stream is synchronised;
* aclnn failures become Python errors naming the operator, its arguments and the reason.
"""
from __future__ import annotations

import ctypes

import pytest
import torch

from test_ascend_helpers import ascend_state, emulator, host_pointer_runner, table_entry


@pytest.fixture
def harness():
    runner, ctx = host_pointer_runner()
    emu = emulator()
    emu.clear_log()
    emu.clear_injections()
    yield runner, ctx, emu
    emu.clear_injections()
    ctx.runtime.synchronize(0)
    ctx.close()
    assert all(v == 0 for v in emu.live().values()), emu.live()


def _kernel(runner, name):
    return runner.kernel(table_entry(name))


def test_two_phase_order_executor_once_and_cleanup(harness):
    runner, ctx, emu = harness
    a, b = ctx.upload(torch.randn(4, 5)), ctx.upload(torch.randn(4, 5))
    emu.clear_log()
    out = _kernel(runner, "add.Tensor")(a, b, alpha=2.0)
    calls = emu.calls()
    names = [c.func for c in calls]
    p1 = names.index("aclnnAddGetWorkspaceSize")
    p2 = names.index("aclnnAdd")
    assert p1 < p2
    executor = calls[names.index("aclnnAddGetWorkspaceSize:result")].detail.split()[0]
    assert calls[p2].detail.startswith(executor + " "), "phase 2 runs the executor phase 1 returned"
    assert names.count("aclnnAdd") == 1
    # arguments are created before phase 1 and destroyed after phase 2
    assert names[:p1].count("aclCreateTensor") == 3 and names[:p1].count("aclCreateScalar") == 1
    assert names[p2:].count("aclDestroyTensor") == 3 and names[p2:].count("aclDestroyScalar") == 1
    assert all(v == 0 for v in emu.live().values())
    torch.testing.assert_close(ctx.download(out), ctx.download(a) + 2.0 * ctx.download(b))


def test_workspace_is_allocated_on_the_device_and_passed_to_phase_two(harness):
    runner, ctx, emu = harness
    a, b = ctx.upload(torch.randn(8, 16)), ctx.upload(torch.randn(16, 4))
    emu.clear_log()
    out = _kernel(runner, "mm")(a, b)
    calls = emu.calls()
    names = [c.func for c in calls]
    size = int(calls[names.index("aclnnMmGetWorkspaceSize:result")].detail.split("workspace=")[1])
    assert size > 0
    p1, p2 = names.index("aclnnMmGetWorkspaceSize"), names.index("aclnnMm")
    allocs = [c for c in calls[p1:p2] if c.func == "aclrtMalloc:result"]
    assert len(allocs) == 1, "the workspace is allocated between the two phases"
    ptr, nbytes = (kv.split("=")[1] for kv in allocs[0].detail.split())
    assert int(nbytes) >= size
    launch = calls[names.index("aclnnMm")].detail
    assert f"workspace={ptr}" in launch and f"workspaceSize={size}" in launch
    torch.testing.assert_close(ctx.download(out), ctx.download(a) @ ctx.download(b))


def test_results_appear_only_after_the_stream_is_synchronised(harness):
    """The emulator runs queued kernels when the host waits for them, so a caller that reads device
    memory without synchronising sees what a real device might not have written yet."""
    runner, ctx, emu = harness
    a = ctx.upload(torch.ones(16))
    out = _kernel(runner, "mul.Scalar")(a, 3.0)
    assert torch.isnan(out).all(), "nothing ran yet: fresh device memory is 0xFF (NaN)"
    assert emu.state()["pending_tasks"] == 1
    assert torch.equal(ctx.download(out), torch.full((16,), 3.0))  # memcpy on the stream + synchronize
    assert emu.state()["pending_tasks"] == 0


def test_a_synchronous_copy_over_memory_a_queued_kernel_uses_is_caught(harness):
    from deeplink.backends.ascend._vendor.acl import AscendError
    runner, ctx, emu = harness
    _, acl, _, _ = ascend_state()
    a = ctx.upload(torch.ones(16))
    _kernel(runner, "neg")(a)  # queued, reads a
    host = torch.zeros(16)
    with pytest.raises(AscendError) as err:
        acl.check(acl.aclrtMemcpy(a.data_ptr(), 64, host.data_ptr(), 64, 1), "aclrtMemcpy")
    assert "still uses" in str(err.value) and "aclnnNeg" in str(err.value)
    emu.clear_log()  # the hazard was provoked on purpose


def test_an_executor_runs_once_and_only_for_its_operator(harness):
    runner, ctx, emu = harness
    _, acl, runtime, api = ascend_state()
    x, y = ctx.upload(torch.randn(3)), ctx.upload(torch.randn(3))
    stream = runtime.default_stream(0)
    with api.call("aclnnNeg", stream, lambda n: ctx.workspace(n, 0)) as c:
        args = [c.tensor(x), c.tensor(y)]
        size, executor = ctypes.c_uint64(), ctypes.c_void_p()
        acl.check(api._phase1["aclnnNeg"](*args, ctypes.byref(size), ctypes.byref(executor)), "phase1")
        api.has("aclnnAbs")
        wrong = api._phase2["aclnnAbs"](None, 0, executor, stream)
        assert wrong == 161002 and "belongs to aclnnNeg" in acl.recent_error()
        acl.check(api._phase2["aclnnNeg"](None, 0, executor, stream), "aclnnNeg")
        again = api._phase2["aclnnNeg"](None, 0, executor, stream)
        assert again == 161002 and "runs exactly once" in acl.recent_error()
    assert torch.equal(ctx.download(y), -ctx.download(x))


def test_a_workspace_smaller_than_asked_is_rejected(harness):
    runner, ctx, emu = harness
    _, acl, runtime, api = ascend_state()
    a, b = ctx.upload(torch.randn(4, 4)), ctx.upload(torch.randn(4, 4))
    out = ctx.empty((4, 4), torch.float32, 0)
    stream = runtime.default_stream(0)
    with api.call("aclnnMm", stream, lambda n: ctx.workspace(n, 0)) as c:
        args = [c.tensor(a), c.tensor(b), c.tensor(out), 0]
        size, executor = ctypes.c_uint64(), ctypes.c_void_p()
        acl.check(api._phase1["aclnnMm"](*args, ctypes.byref(size), ctypes.byref(executor)), "phase1")
        small = ctx.workspace(16, 0)
        ret = api._phase2["aclnnMm"](small.data_ptr(), 16, executor, stream)
        assert ret == 161002 and "smaller than" in acl.recent_error()
        acl.aclDestroyAclOpExecutor(executor)  # a phase-1 executor that will not run is released


def test_argument_objects_are_destroyed_when_a_call_fails(harness):
    from deeplink.backends.ascend._vendor.acl import AscendError
    runner, ctx, emu = harness
    a, b = ctx.upload(torch.randn(2, 3)), ctx.upload(torch.randn(2, 3))
    emu.inject("aclnnAddGetWorkspaceSize", 561000, "injected inner error")
    with pytest.raises(AscendError) as err:
        _kernel(runner, "add.Tensor")(a, b)
    e = err.value
    assert e.code == 561000 and e.function == "aclnnAddGetWorkspaceSize" and "injected inner error" in str(e)
    assert "aten::add.Tensor(self=(2, 3):float32, other=(2, 3):float32)" in str(e)
    assert all(v == 0 for v in emu.live().values()), emu.live()
    emu.inject("aclnnAdd", 507015, "injected launch failure")
    with pytest.raises(AscendError):
        _kernel(runner, "add.Tensor")(a, b)
    assert emu.live()["executors"] == 0  # a failed launch still consumed its one-shot executor
    emu.inject("aclCreateScalar", 161002, "no scalars today")
    with pytest.raises(AscendError) as err:
        _kernel(runner, "add.Tensor")(a, b)
    assert "aclCreateScalar" in str(err.value)
    assert emu.live()["tensors"] == 0 and emu.live()["scalars"] == 0


def test_operator_rejections_name_operator_shapes_and_reason(harness):
    """A shape aclnn rejects surfaces from phase 1 as ACLNN_ERR_PARAM_INVALID with the operator's
    message; the aten-level error adds the aten call and the backend."""
    from deeplink.backends.ascend._vendor.acl import AscendError
    runner, ctx, emu = harness
    _, acl, runtime, api = ascend_state()
    a, b = ctx.upload(torch.randn(4, 3)), ctx.upload(torch.randn(4, 3))
    out = ctx.empty((4, 4), torch.float32, 0)
    with pytest.raises(AscendError) as err:
        runner.launch("aclnnMm", 0, lambda c: [c.tensor(a), c.tensor(b), c.tensor(out), 0], "mm of [4,3] by [4,3]")
    e = err.value
    assert e.code == 161002 and e.name == "ACLNN_ERR_PARAM_INVALID" and e.function == "aclnnMmGetWorkspaceSize"
    assert "mm of [4,3] by [4,3]" in str(e) and "aclnnMm" in e.acl_message
    assert "reduction dim" in e.acl_message and "[4, 3] X [4, 3]" in e.acl_message
    assert "Traceback" not in e.acl_message and "What to do" in str(e)


def test_a_kernel_failing_on_the_device_is_reported_at_the_next_synchronisation(harness):
    """Work that fails while running (an aclnn "aicore exception") is reported by the next
    synchronize, naming the kernel."""
    from deeplink.backends.ascend._vendor.acl import AscendError
    runner, ctx, emu = harness
    idx = ctx.upload(torch.tensor([0, 7]))   # 7 is out of range for a 3-row table
    w = ctx.upload(torch.randn(3, 2))
    _kernel(runner, "embedding")(w, idx)
    with pytest.raises(AscendError) as err:
        ctx.runtime.synchronize(0)
    assert err.value.code == 507015 and "aclnnEmbedding" in str(err.value)


def test_views_with_strides_and_offsets_reach_aclnn_as_such(harness):
    runner, ctx, emu = harness
    base = ctx.upload(torch.arange(60, dtype=torch.float32).reshape(6, 10))
    view = base[1:5, 2:9:3].t()   # offset, strides (1, 30)... as torch describes them
    emu.clear_log()
    out = _kernel(runner, "neg")(view)
    create = [c for c in emu.calls() if c.func == "aclCreateTensor"][0].detail
    assert f"view=[{view.shape[0]},{view.shape[1]}]" in create
    assert f"stride=[{view.stride()[0]},{view.stride()[1]}]" in create
    assert f"offset={view.storage_offset()}" in create and "storage=[60]" in create
    assert torch.equal(ctx.download(out), -ctx.download(view))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.bool])
def test_dtypes_map_to_acl_data_types(harness, dtype):
    from deeplink.backends.ascend._vendor.constants import ACL_DTYPE_NAMES, TORCH_TO_ACL
    runner, ctx, emu = harness
    x = ctx.upload(torch.arange(6).reshape(2, 3).to(dtype))
    emu.clear_log()
    out = _kernel(runner, "flip")(x, [1])
    create = [c for c in emu.calls() if c.func == "aclCreateTensor"][0].detail
    assert f"dtype={ACL_DTYPE_NAMES[TORCH_TO_ACL[dtype]]}" in create
    assert torch.equal(ctx.download(out), ctx.download(x).flip(1))

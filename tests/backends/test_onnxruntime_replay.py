"""Replayed kernel calls on the onnxruntime backend (backends/onnxruntime/_vendor/replay.py): a
call repeated with the same signature skips the kernel's Python and reruns the recorded session
with the new pointers. Replays must compute what the kernel computes, for new data, new memory,
in-place targets and scalar values; calls that depend on more than their signature (data reads,
copies, random draws) must never be replayed."""
from __future__ import annotations

import pytest
import torch

from test_onnxruntime_helpers import on_onnxruntime

from deeplink.backends.onnxruntime import kernels as ort_kernels
from deeplink.backends.onnxruntime._vendor import replay


@pytest.fixture(autouse=True)
def _on():
    with on_onnxruntime("error"):
        ort_kernels.reset_stats()
        yield


def _counts() -> dict:
    s = ort_kernels.stats()
    return {k: s[k] for k in ("replayed", "recorded", "refused")}


def test_repeated_calls_replay_with_new_data_and_new_memory():
    results = []
    for i in range(4):
        a, b = torch.randn(5, 7), torch.randn(5, 7)
        got = a.to("deeplink") + b.to("deeplink")       # fresh inputs and output each time
        torch.testing.assert_close(got.cpu(), a + b)
        results.append(got)                             # outputs stay alive: new pointers per call
    assert len({r.data_ptr() for r in results}) == 4
    c = _counts()
    assert c["recorded"] >= 1 and c["replayed"] >= 3, c


def test_in_place_replay_writes_the_target_of_this_call():
    xs = [torch.randn(6) for _ in range(3)]
    ds = [x.to("deeplink") for x in xs]
    for d in ds:
        d.mul_(3.0)
    for x, d in zip(xs, ds):
        torch.testing.assert_close(d.cpu(), x * 3)
    assert _counts()["replayed"] >= 2


def test_scalar_values_are_part_of_the_signature():
    x = torch.arange(4.0)
    d = x.to("deeplink")
    for k in (2.0, 3.0, 2.0, 5.0):
        torch.testing.assert_close((d * k).cpu(), x * k)
        torch.testing.assert_close((d + int(k)).cpu(), x + int(k))
    torch.testing.assert_close(torch.add(d, d, alpha=2).cpu(), x + 2 * x)
    torch.testing.assert_close(torch.add(d, d, alpha=3).cpu(), x + 3 * x)


def test_strided_inputs_replay_as_their_own_layout():
    base = torch.randn(4, 6)
    d = base.to("deeplink")
    for _ in range(3):
        torch.testing.assert_close((d.t() * 2).cpu(), base.t() * 2)      # a permuted view
        torch.testing.assert_close((d[:, 1::2] + 1).cpu(), base[:, 1::2] + 1)   # a gapped view
    # same shape and strides, another offset into the storage: the replay must read from there
    torch.testing.assert_close((d[1:3] * 1.5).cpu(), base[1:3] * 1.5)
    torch.testing.assert_close((d[2:4] * 1.5).cpu(), base[2:4] * 1.5)


def test_dtypes_and_shapes_get_their_own_plans():
    for dtype in (torch.float32, torch.float16, torch.int64):
        for n in (3, 5):
            x = torch.arange(n).to(dtype)
            d = x.to("deeplink")
            for _ in range(2):
                torch.testing.assert_close((d + d).cpu(), x + x)


def test_random_ops_draw_anew_on_every_call():
    x = torch.ones(256, device="deeplink")
    a = torch.nn.functional.dropout(x, 0.5, training=True).cpu()
    b = torch.nn.functional.dropout(x, 0.5, training=True).cpu()
    assert not torch.equal(a, b)
    assert not replay.replayable(torch.ops.aten.bernoulli.p)


def test_a_kernel_that_dispatches_more_is_refused_and_still_right():
    calls = []
    fn = replay.replaying(lambda x: (calls.append(1), x.clone())[1])   # a copy: not replayable
    d = torch.arange(3.0, device="deeplink")
    for _ in range(3):
        torch.testing.assert_close(fn(d).cpu(), torch.arange(3.0))
    assert len(calls) == 3
    assert _counts()["refused"] >= 1


def test_signature_describes_what_a_call_depends_on():
    d = torch.zeros(2, 3, device="deeplink")
    assert replay.signature((d, 1), {}) != replay.signature((d, 1.0), {})     # int vs float
    assert replay.signature((d, 1), {}) != replay.signature((d, True), {})
    assert replay.signature((d,), {}) != replay.signature((d.t(),), {})        # strides
    assert replay.signature((d, torch.tensor(2.0)), {}) != replay.signature((d, torch.tensor(3.0)), {})
    assert replay.signature(([d, d],), {}) is None                             # tensor lists
    assert replay.signature((torch.zeros(3),), {}) is None                     # CPU tensors with data

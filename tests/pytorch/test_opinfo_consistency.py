"""Over PyTorch's op_db (the `ops` decorator), each op's out=, in-place and non-contiguous forms
must agree with its functional, contiguous result on the same device. Slow (every OpInfo, on two
devices): `make test-pytorch` runs it; `make test` does not."""
from collections.abc import Sequence

import pytest
import torch
from torch.testing._internal.common_device_type import instantiate_device_type_tests, ops
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.common_utils import TestCase, noncontiguous_like

from pytorch_devices import DEVICES

pytestmark = pytest.mark.slow

DTYPES = (torch.float32,)
MAX_SAMPLES = 8  # per op and test: enough shapes and arguments, bounded time

# Ops for which "the same call twice gives the same values" is false on every device, so the
# consistency checks say nothing: uninitialised memory and random draws.
UNDEFINED_VALUES = {"empty", "empty_like", "empty_strided", "empty_permuted", "new_empty", "new_empty_strided"}
RANDOM = {"bernoulli", "cauchy", "exponential", "geometric", "log_normal", "normal", "uniform", "multinomial",
          "rand_like", "randint_like", "randn_like", "randint", "nn.functional.rrelu", "nn.functional.alpha_dropout",
          "nn.functional.feature_alpha_dropout"}
# as_strided addresses storage, not values: a non-contiguous copy of the input has other storage;
# view_as_complex requires a last dimension of stride 1 (a non-contiguous input is an error).
STORAGE_DEFINED = {"as_strided", "as_strided_copy", "as_strided_scatter", "view_as_complex"}


def _skip_if_meaningless(test, op, *extra):
    name = op.name
    if name in UNDEFINED_VALUES or name in RANDOM or name.startswith("nn.functional.dropout"):
        test.skipTest("values are random or uninitialised on every device")
    if name in extra:
        test.skipTest("the check does not apply to this op on any device")
    if name.startswith("sparse."):
        test.skipTest("sparse inputs have no strides, storage or out= buffers to compare")


def _samples(op, device, dtype, requires_grad=False):
    """The first samples whose tensors are strided: sparse ones have no strides, storage or
    contiguity to compare (on every device)."""
    for i, s in enumerate(op.sample_inputs(device, dtype, requires_grad=requires_grad)):
        if i >= MAX_SAMPLES:
            return
        if all(t.layout == torch.strided for t in _tensors([s.input, *s.args, *s.kwargs.values()])):
            yield s


def _call(op, sample, **extra):
    return op(sample.input, *sample.args, **sample.kwargs, **extra)


def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, Sequence) and not isinstance(x, str):
        return [t for v in x for t in _tensors(v)]
    return []


class TestOpInfoConsistency(TestCase):
    @ops([op for op in op_db if op.supports_out], allowed_dtypes=DTYPES)
    def test_out_matches_functional(self, device, dtype, op):
        _skip_if_meaningless(self, op)
        ran = False
        for sample in _samples(op, device, dtype):
            expected = _call(op, sample)
            if not isinstance(expected, torch.Tensor) or expected.layout != torch.strided:
                continue
            out = torch.empty_like(expected)
            ptr = out.data_ptr()
            result = _call(op, sample, out=out)
            self.assertIs(result, out)
            self.assertEqual(out.data_ptr(), ptr)
            self.assertEqual(out, expected, exact_dtype=True)
            resized = torch.empty(0, dtype=expected.dtype, device=device)
            self.assertEqual(_call(op, sample, out=resized), expected)
            ran = True
        if not ran:
            self.skipTest("no sample with a single tensor result")

    @ops([op for op in op_db if op.inplace_variant is not None], allowed_dtypes=DTYPES)
    def test_inplace_matches_functional(self, device, dtype, op):
        _skip_if_meaningless(self, op)
        ran = False
        for sample in _samples(op, device, dtype):
            if not isinstance(sample.input, torch.Tensor):
                continue
            expected = _call(op, sample)
            if not isinstance(expected, torch.Tensor) or expected.shape != sample.input.shape or \
                    expected.dtype != sample.input.dtype:
                continue  # broadcasting or promotion: the in-place form must refuse, not agree
            target = sample.input.clone()
            result = op.inplace_variant(target, *sample.args, **sample.kwargs)
            self.assertIs(result, target)
            self.assertEqual(target, expected)
            ran = True
        if not ran:
            self.skipTest("no sample the in-place form can take")

    @ops(op_db, allowed_dtypes=DTYPES)
    def test_noncontiguous_matches_contiguous(self, device, dtype, op):
        _skip_if_meaningless(self, op, *STORAGE_DEFINED)
        test_grad = op.supports_autograd and dtype in op.supported_backward_dtypes(torch.device(device).type)
        for sample in _samples(op, device, dtype, requires_grad=test_grad):
            nc = sample.noncontiguous()
            expected = _call(op, sample)
            try:
                actual = _call(op, nc)
            except RuntimeError as e:
                if "contiguous" in str(e):  # the op requires contiguous inputs (on every device)
                    continue
                raise
            self.assertEqual(actual, expected)
            if not test_grad:
                continue
            expected_out = [t for t in _tensors(sample.output_process_fn_grad(expected)) if t.requires_grad]
            actual_out = [t for t in _tensors(nc.output_process_fn_grad(actual)) if t.requires_grad]
            inputs_c = [t for t in _tensors([sample.input, *sample.args]) if t.requires_grad]
            inputs_n = [t for t in _tensors([nc.input, *nc.args]) if t.requires_grad]
            if not expected_out or not inputs_c:
                continue
            grads = [torch.randn_like(t) for t in expected_out]
            g_c = torch.autograd.grad(expected_out, inputs_c, grads, allow_unused=True)
            g_n = torch.autograd.grad(actual_out, inputs_n, [noncontiguous_like(g) for g in grads], allow_unused=True)
            for i, (a, b) in enumerate(zip(g_c, g_n)):
                self.assertEqual(a, b, msg=f"gradient of input {i}")


instantiate_device_type_tests(TestOpInfoConsistency, globals(), only_for=DEVICES)

"""The OpInfo side: the list of OpInfos whose golden outputs went through output_process_fn_grad
is complete for the installed torch, and such functions are recovered by regenerating samples."""
import warnings

import pytest
import torch

from deeplink.conformance import golden
from deeplink.conformance.opinfo_db import PROCESSED_OUTPUT, draw_samples, has_identity_output_process, op_db_by_key
from deeplink.conformance.output_process import recover


@pytest.mark.slow   # draws every OpInfo's samples: ~10 s idle, a minute on a loaded machine
def test_processed_output_list_is_complete():
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, op in op_db_by_key().items():
            if torch.float32 not in op.supported_dtypes("cpu"):
                continue
            try:
                samples = draw_samples(op, key, torch.float32, requires_grad=False)
            except Exception:  # noqa: BLE001  (a few OpInfos cannot draw CPU samples at all)
                continue
            if any(not has_identity_output_process(s) for s in samples):
                found.add(key)
    assert found <= PROCESSED_OUTPUT, f"add to PROCESSED_OUTPUT: {sorted(found - PROCESSED_OUTPUT)}"


def test_recover_needs_the_same_inputs():
    data = golden.load(next(f for f in golden.shipped() if f.kind == "forward"))
    s = data["ops"]["svd"]["samples"][0]
    fn, how = recover("svd", torch.float32, False, 0, (s["input"], s["args"], s["kwargs"]))
    assert fn is not None and how == "regenerated (inputs equal)"
    # lu_unpack's inputs are built with CPU LAPACK: depending on the machine's LAPACK they match
    # exactly or to the last ulp or two only; both recover the function.
    s = data["ops"]["lu_unpack"]["samples"][4]
    fn, how = recover("lu_unpack", torch.float32, False, 4, (s["input"], s["args"], s["kwargs"]))
    assert fn is not None and how.startswith("regenerated (inputs equal"), how
    from deeplink.conformance.output_process import NotRecoverable
    with pytest.raises(NotRecoverable, match="svd sample 0"):
        recover("svd", torch.float32, False, 0, (s["input"] + 1, s["args"], s["kwargs"]))


def test_the_golden_sampling_rule_draws_the_shipped_samples():
    """draw_samples (the one implementation of the rule in docs/conformance.md) gives back exactly
    the inputs the shipped golden data holds: cdist and diff draw more than 48 samples (256, 64),
    so the even spread is exercised; sum draws fewer."""
    from torch.utils._pytree import tree_flatten

    from deeplink.conformance.record import MAX_INPUT_BYTES, _input_bytes

    def leaves_equal(a, b):
        fa, fb = tree_flatten(a)[0], tree_flatten(b)[0]
        return len(fa) == len(fb) and all(
            torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y for x, y in zip(fa, fb))

    data = golden.load(next(f for f in golden.shipped() if f.kind == "forward" and f.dtype == "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in ("cdist", "diff", "sum"):
            drawn = [s for s in draw_samples(op_db_by_key()[key], key, torch.float32, requires_grad=False)
                     if _input_bytes(s) <= MAX_INPUT_BYTES]
            stored = data["ops"][key]["samples"]
            assert len(drawn) == len(stored), key
            for i, (d, s) in enumerate(zip(drawn, stored)):
                assert leaves_equal((d.input, d.args, d.kwargs), (s["input"], s["args"], s["kwargs"])), (key, i)


def test_spread_keeps_evenly_spaced_items():
    from deeplink.conformance.opinfo_db import spread

    assert spread(list(range(5)), 48) == [0, 1, 2, 3, 4]
    assert spread(list(range(96)), 48) == list(range(0, 96, 2))
    assert spread(list(range(100)), 4) == [0, 25, 50, 75]

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
    # lu_unpack's inputs are built with CPU LAPACK: they match to the last ulp or two only.
    s = data["ops"]["lu_unpack"]["samples"][4]
    fn, how = recover("lu_unpack", torch.float32, False, 4, (s["input"], s["args"], s["kwargs"]))
    assert fn is not None and how.startswith("regenerated (inputs equal up to")
    from deeplink.conformance.output_process import NotRecoverable
    with pytest.raises(NotRecoverable, match="svd sample 0"):
        recover("svd", torch.float32, False, 0, (s["input"] + 1, s["args"], s["kwargs"]))

"""Shared fixtures: small real conformance runs, made once per test session.

Every run here goes through the real pipeline (golden files, worker processes, the deeplink
device), restricted with --ops to a few OpInfos so the default test run stays short.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# A handful of OpInfos covering pointwise, reduction, matmul, softmax (an LLM op and its
# backward), a random op (properties), an output_process_fn_grad op (svd) and the LLM generators.
SMALL_OPS = (r"^(add|mul|sum|softmax|nn\.functional\.linear|uniform|svd|"
             r"_foreach_add_\.Scalar|_scaled_dot_product_efficient_attention)$")


@pytest.fixture(scope="session")
def cpu_run(tmp_path_factory):
    """The cpu backend on SMALL_OPS, float32 + bfloat16, two workers."""
    from deeplink.conformance.runner import RunOptions, run

    out = tmp_path_factory.mktemp("cpu_run")
    opts = RunOptions(backend="cpu", out_dir=out, dtypes=["float32", "bfloat16"], ops=SMALL_OPS, jobs=2,
                      progress=False)
    done = run(opts, log=lambda m: None)
    return {"out": out, "opts": opts, **done}


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory):
    """The planted-bug backend (tests/conformance/planted_backend.py) on ops that reach its bugs
    and ops that must stay clean."""
    from deeplink.conformance.runner import RunOptions, run

    out = tmp_path_factory.mktemp("planted_run")
    opts = RunOptions(backend="planted", out_dir=out, dtypes=["float32"],
                      ops=r"^(add|sum|abs|mul|cumsum|nn\.functional\.linear|_foreach_add_\.Scalar)$", jobs=2,
                      plugins=[str(HERE / "planted_backend.py")], progress=False, timeout_s=60)
    done = run(opts, log=lambda m: None)
    return {"out": out, "opts": opts, **done}


def op_status(report: dict, op: str, dtype: str = "float32") -> str | None:
    for entry in report["ops"]:
        if entry["op"] == op:
            return entry["dtypes"].get(dtype, {}).get("status")
    return None


def statuses_with_verdict(report: dict, dtype: str = "float32") -> dict[str, str]:
    return {e["op"]: e["dtypes"][dtype]["status"] for e in report["ops"]
            if dtype in e["dtypes"] and e["dtypes"][dtype]["status"] not in ("skip", "untested")}


os.environ.setdefault("DEEPLINK_FALLBACK", "silent")

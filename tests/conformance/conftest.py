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


# The OpInfos and generated overloads that reach every planted bug (planted_kernels.BUGS), and
# ops next to them that must stay clean.
PLANTED_OPS = (r"^(add|sum|abs|mul|cumsum|nn\.functional\.linear|_foreach_add_\.Scalar|_foreach_mul_\.Scalar|"
               r"neg|sub|div\.no_rounding_mode|exp|amax|mm|argmax|min\.reduction_with_dim|maximum|clamp|tanh|"
               r"nn\.functional\.embedding|embedding_dense_backward)$")
# The default (fast) planted run: float32, bugs of a few kinds (no crash: each costs a worker restart).
PLANTED_FAST_OPS = r"^(add|mul|neg|argmax|cumsum|_foreach_add_\.Scalar|_foreach_mul_\.Scalar)$"


def _planted(tmp_path_factory, name: str, ops: str, dtypes: list[str]) -> dict:
    from deeplink.conformance.runner import RunOptions, run

    out = tmp_path_factory.mktemp(name)
    opts = RunOptions(backend="planted", out_dir=out, dtypes=dtypes, ops=ops, jobs=2,
                      plugins=[str(HERE / "planted_backend.py")], progress=False, timeout_s=60)
    done = run(opts, log=lambda m: None)
    return {"out": out, "opts": opts, **done}


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory):
    """The planted-bug backend (tests/conformance/planted_backend.py) on ops that reach some of its
    bugs and ops that must stay clean, float32."""
    return _planted(tmp_path_factory, "planted_run", PLANTED_FAST_OPS, ["float32"])


@pytest.fixture(scope="session")
def planted_full_run(tmp_path_factory):
    """Every planted bug, float32 and bfloat16 (minutes: used by slow tests only)."""
    return _planted(tmp_path_factory, "planted_full_run", PLANTED_OPS, ["float32", "bfloat16"])


def op_status(report: dict, op: str, dtype: str = "float32") -> str | None:
    for entry in report["ops"]:
        if entry["op"] == op:
            return entry["dtypes"].get(dtype, {}).get("status")
    return None


def failing(report: dict) -> dict[tuple[str, str], str]:
    """{(overload, dtype): status} of every overload that did not pass (skip/untested aside)."""
    return {(e["op"], dtype): d["status"] for e in report["ops"] for dtype, d in e["dtypes"].items()
            if d["status"] not in ("pass", "skip", "untested")}


def statuses_with_verdict(report: dict, dtype: str = "float32") -> dict[str, str]:
    return {e["op"]: e["dtypes"][dtype]["status"] for e in report["ops"]
            if dtype in e["dtypes"] and e["dtypes"][dtype]["status"] not in ("skip", "untested")}


os.environ.setdefault("DEEPLINK_FALLBACK", "silent")

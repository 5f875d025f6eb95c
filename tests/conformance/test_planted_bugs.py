"""Proof the suite can fail: a backend with realistic kernel bugs is reported failing for exactly
the overloads and dtypes each bug breaks, and nothing else fails.

The planted backend (planted_backend.py) is the CPU reference backend with the kernels of
planted_kernels.BUGS replaced (stride, in-place, out=, dtype slips, ignored arguments, precision
downcast, tie-breaking, NaN handling, per-dtype, backward-only and foreach-list bugs, a segfault)
and cumsum left out (it runs through the CPU fallback). The default run covers a few bug kinds in
float32; the whole table runs as a slow test (`pytest -m slow tests/conformance/test_planted_bugs.py`,
about 2 minutes on 2 loaded cores).
"""
import json
from pathlib import Path

import pytest
from conftest import HERE, failing, op_status, statuses_with_verdict
from planted_kernels import BUGS, MISSING

FALLBACKS = {f"{packet}{suffix}" for packet in MISSING for suffix in ("", ".out")}


def expected_failures(ops, dtypes) -> dict:
    """{(overload, dtype): status} the planted bugs of `ops` must produce in `dtypes`."""
    out = {(op, dt): BUGS[op][0] for op in ops for dt in BUGS[op][1] if dt in dtypes}
    out.update({(op, dt): "fallback" for op in FALLBACKS for dt in dtypes})
    return out


# The bugs the fast run reaches (conftest.PLANTED_FAST_OPS; sum.dim_IntList through the gradients
# of add and mul): wrong values, stride, in-place,
# tie-breaking, foreach list handling. The crash is checked by the reference-mode test below.
FAST_BUGS = ("add.Tensor", "sum.dim_IntList", "neg", "mul_.Tensor", "argmax", "_foreach_mul_.Scalar")


def test_exactly_the_planted_ops_fail(planted_run):
    report = planted_run["report"]
    assert failing(report) == expected_failures(FAST_BUGS, ["float32"])
    assert op_status(report, "mul.Tensor") == "pass"      # ran in the same run, stayed clean
    assert op_status(report, "_foreach_add_.Scalar") == "pass"


@pytest.mark.slow
def test_every_planted_bug_fails_for_exactly_its_op_and_dtype(planted_full_run):
    """The planted-bug table of docs/conformance.md: every bug, float32 and bfloat16."""
    report = planted_full_run["report"]
    assert len(BUGS) >= 15
    assert failing(report) == expected_failures(BUGS, ["float32", "bfloat16"])
    # Correct overloads next to the wrong ones stay clean (each reached in both dtypes).
    for op in ("div.Tensor", "clamp_.Tensor", "maximum.out", "min.dim_min", "exp.out", "argmax.out"):
        for dtype in ("float32", "bfloat16"):
            assert op_status(report, op, dtype) == "pass", (op, dtype)
    # Every failure is blamed on planted overloads only.
    for s in report["samples"]:
        if s["status"] in ("mismatch", "error", "crash") and s.get("blame", {}).get("ops"):
            assert set(s["blame"]["ops"]) <= set(BUGS), (s["id"], s["blame"])
    linear_grads = [s for s in report["samples"] if s["op"] == "nn.functional.linear"
                    and s["kind"] == "gradients" and s["status"] != "pass"]
    # The wrong sum hides in linear's backward (bias gradient), the bf16 matmul in its mm calls;
    # substitution finds them there and blames nothing else.
    assert linear_grads and all(set(s["blame"]["ops"]) <= {"sum.dim_IntList", "mm"} for s in linear_grads)
    assert any("sum.dim_IntList" in s["blame"]["ops"] for s in linear_grads)
    crashes = [s for s in report["samples"] if s["status"] == "crash"]
    assert crashes and all(s["blame"]["ops"] == {"abs": "crash"} for s in crashes)


def test_variants_are_labelled_with_their_reference(planted_run):
    samples = planted_run["report"]["samples"]
    variants = [s for s in samples if s["id"].startswith("variant/")]
    assert variants and {s.get("reference") for s in variants} <= {"aten-cpu-float64", "aten-cpu", None}
    assert all(s.get("reference") for s in variants if s["status"] not in ("skip", "crash", "timeout"))
    stride = [s for s in variants if s["op"] == "neg" and s["status"] == "mismatch"]
    assert stride and all(s["blame"]["ops"] == {"neg": "mismatch"} for s in stride)
    assert {s["id"].split("/")[1] for s in stride} >= {"strided", "transposed"}
    plain = [s for s in samples if s["id"].startswith("opinfo/fwd/float32/neg/")]
    assert plain and {s["status"] for s in plain} == {"pass"}     # the golden sample alone misses it


def test_fallback_cases_are_never_pass(planted_run):
    # (cumsum_, the in-place variant's overload, is another packet: it has its kernel.)
    cumsum = [s for s in planted_run["report"]["samples"] if s["op"] == "cumsum" and s["kind"] == "forward"
              and not s["id"].startswith("variant/inplace/")]
    assert cumsum and {s["status"] for s in cumsum} == {"fallback"}
    assert all("cumsum.out" in s["routes"]["fallback"] for s in cumsum)


def test_run_completes_and_writes_reports(planted_run):
    out = Path(planted_run["out"])
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["cases"]["with_result"] == report["summary"]["cases"]["total"]
    assert report["summary"]["cases"]["by_status"]["mismatch"] >= 1
    assert "neg" in (out / "report.md").read_text()
    assert "<svg" in (out / "report.html").read_text()


def test_reference_mode_with_planted_overrides(tmp_path):
    """The same bugs layered on plain ATen CPU (no deeplink device): the pipeline works without it,
    and a segfaulting kernel is a `crash` blamed on it by the trace of a fresh worker."""
    from deeplink.conformance.runner import RunOptions, run

    opts = RunOptions(backend="reference", out_dir=tmp_path, ops=r"^(add|abs|neg)$", jobs=1,
                      include_gradients=False, include_llm=False, include_variants=False, progress=False,
                      plugins=[str(HERE / "planted_kernels.py")])
    report = run(opts, log=lambda m: None)["report"]
    statuses = statuses_with_verdict(report)
    assert statuses.pop("add.Tensor") == "mismatch"
    assert statuses.pop("abs") == "crash"
    assert set(statuses.values()) == {"pass"}
    crashes = [s for s in report["samples"] if s["status"] == "crash"]
    assert crashes and all(s["blame"]["ops"] == {"abs": "crash"} for s in crashes)
    assert all("SIGSEGV" in s["message"] for s in crashes)


def test_a_hanging_kernel_is_a_timeout_and_the_run_goes_on(tmp_path):
    from deeplink.conformance.runner import RunOptions, run

    opts = RunOptions(backend="reference", out_dir=tmp_path, ops=r"^(abs|sin)$", jobs=1, timeout_s=3,
                      include_gradients=False, include_llm=False, include_variants=False, progress=False,
                      plugins=[str(HERE / "hanging_kernel.py")])
    report = run(opts, log=lambda m: None)["report"]
    hung = [s for s in report["samples"] if s["op"] == "abs"]
    assert hung and all(s["status"] == "timeout" for s in hung)
    assert all(s["blame"]["ops"] == {"abs": "timeout"} for s in hung)
    assert op_status(report, "sin") == "pass"

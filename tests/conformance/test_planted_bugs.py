"""Proof the suite can fail: a backend with deliberately wrong kernels is reported `mismatch` for
exactly those ops, a segfaulting kernel `crash`, and the run completes with all three reports.

The planted backend (planted_backend.py) is the CPU reference backend with three kernels
replaced: add.Tensor (+1% noise), sum.dim_IntList (reduces the wrong dim), abs (segfault), and
cumsum left out (it runs through the CPU fallback).
"""
import json
from pathlib import Path

from conftest import HERE, op_status, statuses_with_verdict


def test_exactly_the_planted_ops_fail(planted_run):
    report = planted_run["report"]
    statuses = statuses_with_verdict(report)
    assert statuses.pop("add.Tensor") == "mismatch"
    assert statuses.pop("sum.dim_IntList") == "mismatch"
    assert statuses.pop("abs") == "crash"
    assert statuses.pop("cumsum") == "fallback"            # no kernel: ran on the CPU, not `pass`
    assert statuses.pop("cumsum.out") == "fallback"
    assert set(statuses.values()) == {"pass"}, {op: s for op, s in statuses.items() if s != "pass"}
    assert op_status(report, "mul.Tensor") == "pass"      # ran in the same run, stayed clean


def test_fallback_cases_are_never_pass(planted_run):
    cumsum = [s for s in planted_run["report"]["samples"] if s["op"] == "cumsum" and s["kind"] == "forward"]
    assert cumsum and {s["status"] for s in cumsum} == {"fallback"}
    assert all(s["routes"]["fallback"] == ["cumsum.out"] for s in cumsum)


def test_blame_points_at_the_planted_kernel(planted_run):
    samples = planted_run["report"]["samples"]
    linear_grads = [s for s in samples if s["op"] == "nn.functional.linear" and s["kind"] == "gradients"
                    and s["status"] != "pass"]
    # The wrong sum hides in linear's backward (bias gradient); substitution finds it there.
    assert linear_grads and all(s["blame"]["ops"] == {"sum.dim_IntList": "mismatch"} for s in linear_grads)
    crashes = [s for s in samples if s["status"] == "crash"]
    assert crashes and all(s["blame"]["ops"] == {"abs": "crash"} for s in crashes)
    assert all("SIGSEGV" in s["message"] for s in crashes)


def test_run_completes_and_writes_reports(planted_run):
    out = Path(planted_run["out"])
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["cases"]["with_result"] == report["summary"]["cases"]["total"]
    assert report["summary"]["cases"]["by_status"]["crash"] >= 1
    assert "abs" in (out / "report.md").read_text()
    assert "<svg" in (out / "report.html").read_text()


def test_reference_mode_with_planted_overrides(tmp_path):
    """The same bugs layered on plain ATen CPU (no deeplink device): the pipeline works without it."""
    from deeplink.conformance.runner import RunOptions, run

    opts = RunOptions(backend="reference", out_dir=tmp_path, ops=r"^(add|abs|neg)$", jobs=1,
                      include_gradients=False, include_llm=False, progress=False,
                      plugins=[str(HERE / "planted_kernels.py")])
    report = run(opts, log=lambda m: None)["report"]
    statuses = statuses_with_verdict(report)
    assert statuses.pop("add.Tensor") == "mismatch"
    assert statuses.pop("abs") == "crash"
    assert set(statuses.values()) == {"pass"}


def test_a_hanging_kernel_is_a_timeout_and_the_run_goes_on(tmp_path):
    from deeplink.conformance.runner import RunOptions, run

    opts = RunOptions(backend="reference", out_dir=tmp_path, ops=r"^(abs|sin)$", jobs=1, timeout_s=3,
                      include_gradients=False, include_llm=False, progress=False,
                      plugins=[str(HERE / "hanging_kernel.py")])
    report = run(opts, log=lambda m: None)["report"]
    hung = [s for s in report["samples"] if s["op"] == "abs"]
    assert hung and all(s["status"] == "timeout" for s in hung)
    assert all(s["blame"]["ops"] == {"abs": "timeout"} for s in hung)
    assert op_status(report, "sin") == "pass"

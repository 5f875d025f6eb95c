"""The whole float32 sweep on the cpu backend (slow: minutes). `pytest -m slow` runs it."""
import pytest


@pytest.mark.slow
def test_full_float32_sweep_on_cpu(tmp_path):
    from deeplink.conformance.runner import RunOptions, run

    report = run(RunOptions(backend="cpu", out_dir=tmp_path, jobs=2, progress=False), log=lambda m: None)["report"]
    s = report["summary"]
    assert s["cases"]["with_result"] == s["cases"]["total"] > 14000
    assert "crash" not in s["cases"]["by_status"], [x for x in report["samples"] if x["status"] == "crash"][:3]
    assert s["op_coverage"]["core"]["all_dtypes"]["coverage"] > 0.7
    for name in ("report.json", "report.md", "report.html"):
        assert (tmp_path / name).stat().st_size > 1000

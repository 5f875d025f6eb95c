"""`conformance diff`: regressions make it exit 1, fixes and unchanged runs exit 0."""
import copy
import json

from deeplink.conformance.cli import main
from deeplink.conformance.diff import diff_reports


def _regressed(report):
    worse = copy.deepcopy(report)
    op = next(o for o in worse["ops"] if o["op"] == "mul.Tensor")
    op["dtypes"]["float32"]["status"] = "mismatch"
    sample = next(x for x in worse["samples"] if x["op"] == "mul" and x["status"] == "pass")
    sample["status"], sample["message"] = "mismatch", "planted in the test"
    return worse, sample["id"]


def test_diff_finds_regressions_and_fixes(cpu_run):
    report = cpu_run["report"]
    worse, sid = _regressed(json.loads(json.dumps(report, default=str)))
    d = diff_reports(report, worse)
    assert d["regressions"] == 2
    assert d["ops"]["regression"] == [{"op": "mul.Tensor", "dtype": "float32", "before": "pass", "after": "mismatch"}]
    assert d["samples"]["regression"][0]["id"] == sid
    back = diff_reports(worse, report)
    assert back["regressions"] == 0 and back["fixes"] == 2


def test_diff_exit_codes(cpu_run, tmp_path, capsys):
    path = cpu_run["out"] / "report.json"
    worse, _ = _regressed(json.loads(path.read_text()))
    worse_path = tmp_path / "worse.json"
    worse_path.write_text(json.dumps(worse))
    assert main(["diff", str(path), str(path)]) == 0
    assert "0 regressions, 0 fixes" in capsys.readouterr().out
    assert main(["diff", str(path), str(worse_path)]) == 1
    out = capsys.readouterr().out
    assert "regressions (ops): 1" in out and "mul.Tensor [float32]: pass -> mismatch" in out
    assert main(["diff", str(worse_path), str(path)]) == 0
    assert "fixes (ops): 1" in capsys.readouterr().out


def test_subset_runs_are_not_regressions(cpu_run):
    report = cpu_run["report"]
    smaller = copy.deepcopy(report)
    smaller["samples"] = [x for x in smaller["samples"] if x["op"] != "mul"]
    for o in smaller["ops"]:
        if o["op"] == "mul.Tensor":
            o["dtypes"] = {}
    d = diff_reports(report, smaller)
    assert d["regressions"] == 0 and d["not_compared"]["samples"] > 0


def test_diff_reads_compressed_committed_reports(tmp_path, capsys):
    """Committed reports may be report.json.xz (reports/cuda): a folder or the file itself works."""
    import lzma
    from pathlib import Path
    committed = Path(__file__).resolve().parents[2] / "reports" / "cuda"
    report = json.loads(lzma.decompress((committed / "report.json.xz").read_bytes()))
    assert report["backend"]["name"] == "cuda" and "H100" in report["backend"]["verified_on"]
    plain = tmp_path / "report.json"
    plain.write_text(json.dumps(report))
    assert main(["diff", str(committed), str(plain)]) == 0
    assert main(["diff", str(committed / "report.json.xz"), str(tmp_path)]) == 0
    assert "0 regressions, 0 fixes" in capsys.readouterr().out

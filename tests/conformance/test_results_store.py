"""results.jsonl: appended as results come, resumed only for the same configuration."""
import json

from deeplink.conformance.results import ResultStore


def test_resume_same_fingerprint_and_truncated_line(tmp_path):
    fp = {"backend": "cpu", "golden": ["x"]}
    store = ResultStore(tmp_path, fp)
    store.add({"id": "a", "status": "pass"})
    store.add({"id": "b", "status": "mismatch", "max_abs": float("inf")})
    store.close()
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"id": "c", "stat')                      # killed mid-write
    again = ResultStore(tmp_path, fp)
    assert again.resumed == 2 and again.done("a") and not again.done("c")
    assert again.results["b"]["max_abs"] == "inf"
    again.add({"id": "c", "status": "pass"})
    again.close()
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["id"] == "c"             # the cut line did not swallow it


def test_other_configuration_moves_old_results_aside(tmp_path):
    s = ResultStore(tmp_path, {"backend": "cpu"})
    s.add({"id": "a", "status": "pass"})
    s.close()
    t = ResultStore(tmp_path, {"backend": "onnxruntime"})
    assert t.resumed == 0 and not t.done("a") and t.moved_aside.exists()
    t.close()

"""A small real run on the cpu backend: report contents, resuming, and an interrupted run."""
import json
import shutil

from conftest import op_status


def test_report_json_contract(cpu_run):
    r = json.loads((cpu_run["out"] / "report.json").read_text())
    assert r["schema_version"] == 1
    assert r["backend"]["name"] == "cpu" and r["backend"]["device"] == "deeplink"
    assert r["environment"]["torch"]
    from deeplink.conformance.golden import shipped
    assert {g["sha256"] for g in r["golden"]} == {f.sha256 for f in shipped() if f.dtype in ("float32", "bfloat16")}
    tol = r["tolerance"]
    assert tol["defaults"]["float32"]["rtol"] == 1.3e-6 and tol["deeplink_overrides"]
    s = r["summary"]
    assert set(s["op_coverage"]) == {"llm", "core", "cuda"}
    for tier in s["op_coverage"].values():
        assert set(tier) == {"all_dtypes", "float32", "bfloat16"}
        assert 0 < tier["all_dtypes"]["pass"] <= tier["all_dtypes"]["ops"]
    assert len(s["workload_coverage"]) == 4
    for w in s["workload_coverage"].values():
        assert 0 < w["calls_fraction"] < 1 and 0 <= w["flops_fraction"] <= 1
    assert s["cases"]["with_result"] == s["cases"]["total"] == len(r["samples"])
    allowed = {"id", "source", "kind", "dtype", "op", "index", "aten", "status"}
    assert all(allowed <= set(x) for x in r["samples"])


def test_cpu_backend_passes_this_subset(cpu_run):
    r = cpu_run["report"]
    bad = [x for x in r["samples"] if x["status"] not in ("pass", "skip")]
    assert not bad, bad[:3]
    assert op_status(r, "add.Tensor") == "pass" and op_status(r, "_softmax") == "pass"
    assert op_status(r, "_scaled_dot_product_efficient_attention", "bfloat16") == "pass"


def test_cases_say_what_they_were_checked_against(cpu_run):
    samples = cpu_run["report"]["samples"]
    llm = [x for x in samples if x["source"] == "llm"]
    assert llm and all(x["reference"] == "aten-cpu-float64" for x in llm)
    assert {x["dtype"] for x in llm} == {"float32", "bfloat16"}
    assert all(x["reference"] == "cuda-golden" for x in samples
               if x["source"] == "opinfo" and x["op"] == "add" and x["status"] == "pass")
    uniform = [x for x in samples if x["op"] == "uniform" and x["kind"] == "forward"]
    assert uniform and all(x["check"].startswith("properties") for x in uniform)
    svd = [x for x in samples if x["op"] == "svd" and x["status"] == "pass"]
    assert svd and all(x["output_process"].startswith("regenerated") for x in svd)


def test_rerun_resumes_everything(cpu_run):
    from deeplink.conformance.runner import run

    again = run(cpu_run["opts"], log=lambda m: None)["report"]
    assert again["summary"]["timings"]["cases_run_now"] == 0
    assert again["summary"]["cases"]["by_status"] == cpu_run["report"]["summary"]["cases"]["by_status"]


def test_interrupted_run_loses_nothing_and_redoes_only_the_rest(cpu_run, tmp_path):
    from deeplink.conformance.runner import run

    out = tmp_path / "interrupted"
    shutil.copytree(cpu_run["out"], out)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    cut = [ln for ln in lines if '"id"' in ln][-7:]
    keep = [ln for ln in lines if ln not in cut]
    (out / "results.jsonl").write_text("".join(keep) + cut[0][:25])   # as if killed mid-write
    opts = cpu_run["opts"]
    opts2 = type(opts)(**{**opts.__dict__, "out_dir": out})
    report = run(opts2, log=lambda m: None)["report"]
    assert report["summary"]["timings"]["cases_run_now"] == 7
    assert report["summary"]["cases"]["by_status"] == cpu_run["report"]["summary"]["cases"]["by_status"]
    ids = []
    for ln in (out / "results.jsonl").read_text().splitlines():
        try:
            ids.append(json.loads(ln).get("id"))
        except json.JSONDecodeError:
            assert ln == cut[0][:25]            # only the line cut short by the "kill" is unreadable
    ids = [i for i in ids if i]
    assert len(ids) == len(set(ids)) == report["summary"]["cases"]["total"]

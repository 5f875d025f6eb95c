"""Reports people can work from (issue 13): report.html lists every failing sample (paged in the
page's script, complete: tested with > 1,000 failures), filterable and sortable by status, op,
dtype and category, with per-op anchors and a repro command per case; JUnit XML; exit codes
0 / 1 / 2 and --fail-under; `run --case ID` reruns one case."""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deeplink.conformance.cli import gate, main
from deeplink.conformance.report.html import FAILURES_JS, failing_rows, render_html
from deeplink.conformance.report.junit import write_junit

HERE = Path(__file__).resolve().parent
PLANTED = str(HERE / "planted_kernels.py")      # reference_overrides(): a noisy add, a wrong-dim sum
STATUSES = ("mismatch", "error", "fallback", "not_implemented", "crash", "timeout")


@pytest.fixture(scope="module")
def big_report(cpu_run):
    """cpu_run's report with 1,500 extra failing samples (statuses, dtypes and ops varied)."""
    report = copy.deepcopy(cpu_run["report"])
    template = next(s for s in report["samples"] if s["op"] == "add")
    for i in range(1500):
        s = dict(template, id=f"opinfo/fwd/{('float32', 'bfloat16')[i % 2]}/add/{1000 + i}",
                 status=STATUSES[i % len(STATUSES)], dtype=("float32", "bfloat16")[i % 2],
                 message=f"planted failure {i} <b>not markup</b>",
                 blame={"method": "substitution", "ops": {("add.Tensor", "erfinv")[i % 2]: "mismatch"}})
        report["samples"].append(s)
    next(o for o in report["ops"] if o["op"] == "add.Tensor")["status"] = "mismatch"
    return report


def _embedded_rows(html: str) -> list:
    data = re.search(r"<script type='application/json' id='failures-data'[^>]*>(.*?)</script>", html, re.S).group(1)
    return json.loads(data.replace("<\\/", "</"))


def test_html_embeds_every_failing_sample(big_report):
    html = render_html(big_report)
    rows = _embedded_rows(html)
    failing = [s for s in big_report["samples"] if s["status"] not in ("pass", "skip")]
    assert len(failing) >= 1500 and len(rows) == len(failing)
    assert {r[0] for r in rows} == {s["id"] for s in failing}
    assert "<b>not markup</b>" not in html.split("failures-data", 1)[0]      # data, not markup
    assert f"Failing samples ({len(failing)})" in html
    # Per-op anchors in the ops table, and a link from each failing op to its samples.
    assert "<tr id='op-add.Tensor'>" in html and "href='#failures?op=add.Tensor'" in html
    assert "data-repro='deeplink conformance run --backend cpu --case'" in html


NODE = shutil.which("node")


def _node(script: str):
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="node runs the report page's script outside a browser")
def test_page_script_filters_sorts_and_pages_every_row(big_report, tmp_path):
    rows = failing_rows(big_report)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    script = ("var window = globalThis; var document = {getElementById: function () { return null; }};\n"
              + FAILURES_JS + f"""
var rows = JSON.parse(require('fs').readFileSync({json.dumps(str(tmp_path / 'rows.json'))}, 'utf8'));
var s = deeplinkFailures.select;
var all = [], page = 0, got;
do {{ got = s(rows, {{pageSize: 100, page: page++}}); all = all.concat(got.rows); }} while (page < got.pages);
console.log(JSON.stringify({{
  total: s(rows, {{pageSize: 100}}).matching, pages: got.pages, paged_ids: all.map(function (r) {{ return r[0]; }}),
  mismatch: s(rows, {{status: 'mismatch', pageSize: 100000}}).rows.map(function (r) {{ return r[1]; }}),
  erfinv: s(rows, {{op: 'ERFINV', pageSize: 100000}}).matching,
  bf16_cat: s(rows, {{dtype: 'bfloat16', category: rows[0][4], pageSize: 100000}}).rows.map(function (r) {{ return [r[3], r[4]]; }}),
  sorted: s(rows, {{sort: 1, desc: true, pageSize: 100000}}).rows.map(function (r) {{ return r[1]; }}),
  beyond: s(rows, {{pageSize: 100, page: 999}}).page,
  hash: deeplinkFailures.parseHash('#failures?status=mismatch&op=erf%20inv&page=3&desc=1'),
  other: deeplinkFailures.parseHash('#op-add')
}}));""")
    got = _node(script)
    assert got["total"] == len(rows) and got["pages"] == -(-len(rows) // 100)
    assert got["paged_ids"] == [r[0] for r in rows]                     # every row, once, in order
    assert got["mismatch"] and set(got["mismatch"]) == {"mismatch"}
    assert got["mismatch"].__len__() == sum(r[1] == "mismatch" for r in rows)
    assert got["erfinv"] == sum("erfinv" in r[2] or "erfinv" in r[6] for r in rows) >= 750   # blamed op counts
    assert got["bf16_cat"] and all(d == "bfloat16" and c == rows[0][4] for d, c in got["bf16_cat"])
    assert got["sorted"] == sorted((r[1] for r in rows), reverse=True)
    assert got["beyond"] == got["pages"] - 1
    assert got["hash"] == {"status": "mismatch", "op": "erf inv", "page": 2, "desc": True} and got["other"] is None


def test_junit_xml_has_every_case_with_its_repro(big_report, tmp_path):
    path = write_junit(big_report, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(big_report["samples"]) == int(root.get("tests"))
    failures = root.findall("./testsuite/testcase/failure")
    errors = root.findall("./testsuite/testcase/error")
    assert len(failures) == sum(s["status"] in ("mismatch", "not_implemented") for s in big_report["samples"])
    assert len(errors) == sum(s["status"] in ("error", "crash", "timeout") for s in big_report["samples"])
    assert int(root.get("failures")) == len(failures) and int(root.get("errors")) == len(errors)
    one = root.find("./testsuite/testcase[@name='opinfo/fwd/float32/add/1000']")
    assert one.get("classname") == "add" and one.find("failure").get("type") == "mismatch"
    assert "repro: deeplink conformance run --backend cpu --case opinfo/fwd/float32/add/1000" in one.find("failure").text
    fallback = root.find("./testsuite/testcase[@name='opinfo/fwd/float32/add/1002']/skipped")
    assert fallback is not None and fallback.get("message").startswith("fallback")


def test_gate_rules(cpu_run):
    report = copy.deepcopy(cpu_run["report"])
    llm = 100 * report["summary"]["op_coverage"]["llm"]["all_dtypes"]["coverage"]
    assert gate(report, {"llm": llm})[0] == 0
    code, why = gate(report, {"llm": llm + 0.1})
    assert code == 1 and why == [f"llm op coverage {llm:.1f}% is below {llm + 0.1:g}%"]
    with pytest.raises(SystemExit, match="unknown tier 'nope'"):
        gate(report, {"nope": 1})
    report["summary"]["cases"]["by_status"] = {"pass": 5}
    assert gate(report, {}) == (0, [])
    report["summary"]["cases"]["by_status"] = {"pass": 5, "mismatch": 2}
    assert gate(report, {}) == (1, ["failing cases: mismatch 2"])


def _run(tmp_path, *extra):
    return main(["run", "--backend", "reference", "--plugin", PLANTED, "--ops", "^add$", "--no-gradients",
                 "--no-llm", "--jobs", "0", "--no-progress", "--out", str(tmp_path / "out"), *extra])


def test_exit_codes_junit_and_fail_under(tmp_path, capsys):
    junit = tmp_path / "ci" / "junit.xml"
    assert _run(tmp_path, "--junit", str(junit)) == 1                 # the planted add fails
    out = capsys.readouterr().out
    assert "exit 1: failing cases: mismatch" in out and junit.exists()
    assert ET.parse(junit).getroot().find(".//failure") is not None
    assert _run(tmp_path, "--fail-under", "core=0") == 0              # thresholds decide instead
    assert _run(tmp_path, "--fail-under", "core=0", "--fail-under", "llm=50") == 1
    assert "llm op coverage 0.0% is below 50%" in capsys.readouterr().out
    assert _run(tmp_path, "--fail-under", "llm") == 2                 # usage errors: 2, one line
    assert _run(tmp_path, "--fail-under", "nosuchtier=5") == 2
    err = capsys.readouterr().err
    assert "expected TIER=PCT" in err and "unknown tier 'nosuchtier'" in err and "Traceback" not in err
    assert main(["run", "--backend", "nosuchbackend", "--out", str(tmp_path / "x")]) == 2
    assert "no backend named 'nosuchbackend'" in capsys.readouterr().err


def test_case_reruns_one_case_from_its_id(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The repro line as report.html prints it (plus --jobs 0 to stay in this process).
    assert main(["run", "--backend", "reference", "--plugin", PLANTED, "--case", "opinfo/fwd/float32/add/3",
                 "--jobs", "0", "--no-progress"]) == 1
    report = json.loads((tmp_path / "conformance-repro" / "report.json").read_text())
    assert [(s["id"], s["status"]) for s in report["samples"]] == [("opinfo/fwd/float32/add/3", "mismatch")]
    # Again: rerun, not resumed from the folder's results.
    assert main(["run", "--backend", "reference", "--plugin", PLANTED, "--case", "opinfo/fwd/float32/add/3",
                 "--jobs", "0", "--no-progress"]) == 1
    lines = (tmp_path / "conformance-repro" / "results.jsonl").read_text().splitlines()
    assert sum('"opinfo/fwd/float32/add/3"' in ln for ln in lines) == 2
    # Ids of several dtypes in one go: each id brings its dtype.
    assert main(["run", "--backend", "reference", "--plugin", PLANTED, "--case", "opinfo/fwd/float32/add/3",
                 "--case", "opinfo/fwd/bfloat16/add/0", "--jobs", "0", "--no-progress", "--out", "two"]) == 1
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert sorted(s["dtype"] for s in report["samples"]) == ["bfloat16", "float32"]
    capsys.readouterr()
    assert main(["run", "--backend", "reference", "--case", "opinfo/fwd/float32/add/999", "--jobs", "0"]) == 2
    assert "no case 'opinfo/fwd/float32/add/999'" in capsys.readouterr().err


def test_diff_exit_2_on_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    assert main(["diff", str(bad), str(bad)]) == 2
    assert main(["diff", str(tmp_path / "missing.json"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "is not a readable report" in err and "does not exist" in err and "Traceback" not in err

"""Roll-up and metric definitions on hand-made results (no workers)."""
from deeplink.conformance import rollup
from deeplink.conformance.cases import Case


def case(cid, aten, dtype="float32"):
    return Case(cid, "opinfo", "forward", dtype, cid.split("/")[0], 0, aten)


def test_contributions_follow_the_documented_rules():
    c = case("x/0", ["mm", "view", "add.Tensor"])
    assert rollup.contributions(c, {"status": "pass"}) == {"mm": "pass", "view": "pass", "add.Tensor": "pass"}
    fell = {"status": "fallback", "routes": {"native": ["add.Tensor"], "fallback": ["mm.out"]}}
    assert rollup.contributions(c, fell) == {"mm": "fallback", "mm.out": "fallback", "view": "pass",
                                             "add.Tensor": "pass"}
    decomposed = {"status": "fallback", "routes": {"fallback": ["neg"], "decomposed": ["add.Tensor"]}}
    assert rollup.contributions(c, decomposed) == {"mm": "pass", "view": "pass", "add.Tensor": "fallback",
                                                   "neg": "fallback"}
    blamed = {"status": "mismatch", "blame": {"method": "substitution", "ops": {"add.Tensor": "mismatch"}}}
    assert rollup.contributions(c, blamed) == {"mm": "pass", "view": "pass", "add.Tensor": "mismatch"}
    crashed = {"status": "crash", "blame": {"method": "trace", "ops": {"mm": "crash"}}}
    assert rollup.contributions(c, crashed) == {"mm": "crash"}
    assert rollup.contributions(c, {"status": "mismatch", "blame": {"method": "unattributed", "ops": {}}}) == {}


def test_tier_coverage_and_all_dtypes():
    cases = [case("a/0", ["mm"]), case("a/1", ["mm"], "bfloat16"), case("b/0", ["add.Tensor"]),
             case("c/0", ["neg"]), case("d/0", ["view"])]
    results = {"a/0": {"status": "pass"}, "a/1": {"status": "mismatch", "blame": {"method": "substitution",
                                                                                "ops": {"mm": "mismatch"}}},
               "b/0": {"status": "pass"}, "c/0": {"status": "skip"},
               "d/0": {"status": "error", "blame": {"method": "unattributed", "ops": {}}}}
    table = rollup.roll_up(cases, results)
    cov = rollup.tier_coverage(table, ["mm", "add.Tensor", "neg", "view", "sin"], ["float32", "bfloat16"])
    assert cov["float32"]["pass"] == 2                      # mm and add in float32
    assert (cov["float32"]["tested"], cov["float32"]["untested"]) == (2, 3)
    assert (cov["bfloat16"]["pass"], cov["bfloat16"]["tested"], cov["bfloat16"]["untested"]) == (0, 1, 4)
    # mm fails in bfloat16; add passed in float32 but has no bfloat16 case: not covered either.
    assert cov["all_dtypes"]["pass"] == 0
    assert cov["all_dtypes"]["by_status"] == {"mismatch": 1, "partly_untested": 1, "skip": 1, "untested": 2}
    assert (cov["all_dtypes"]["tested"], cov["all_dtypes"]["untested"]) == (1, 4)
    assert cov["all_dtypes"]["coverage"] == 0.0
    assert table[("view", "float32")].unattributed == 1


def test_all_dtypes_never_counts_an_untested_dtype():
    """The onnxruntime report once said llm 100% with a bfloat16 row at 20%: every op passing in
    float32 counted, tested in bfloat16 or not."""
    ops = [f"op{i}" for i in range(10)]
    cases = [case(f"{op}/0", [op]) for op in ops] + [case(f"{op}/1", [op], "bfloat16") for op in ops[:2]]
    table = rollup.roll_up(cases, {c.id: {"status": "pass"} for c in cases})
    cov = rollup.tier_coverage(table, ops, ["float32", "bfloat16"])
    assert cov["float32"]["coverage"] == 1.0
    assert cov["bfloat16"]["coverage"] == 0.2 and cov["bfloat16"]["untested"] == 8
    assert cov["all_dtypes"]["coverage"] == 0.2 and cov["all_dtypes"]["by_status"]["partly_untested"] == 8
    assert rollup.headline(cov["all_dtypes"]) == "20.0% (2 pass / 2 tested / 8 untested)"


def test_markdown_headline_shows_tested_and_untested_side_by_side():
    from deeplink.conformance.report.markdown import _coverage_table

    ops = ["a", "b"]
    table = rollup.roll_up([case("a/0", ["a"])], {"a/0": {"status": "pass"}})
    summary = {"op_coverage": {"core": rollup.tier_coverage(table, ops, ["float32", "bfloat16"])}}
    row = _coverage_table(summary, ["float32", "bfloat16"])[2]
    assert "**0.0% (0 pass / 0 tested / 2 untested)**" in row
    assert "50.0% (1 pass / 1 tested / 1 untested)" in row


def test_workload_coverage_counts_calls_and_flops():
    cases = [case("a/0", ["mm"]), case("b/0", ["add.Tensor"]), case("c/0", ["neg"])]
    results = {"a/0": {"status": "pass"}, "b/0": {"status": "pass"},
               "c/0": {"status": "mismatch", "blame": {"method": "substitution", "ops": {"neg": "mismatch"}}}}
    from deeplink.opset.workloads import Workload

    step = Workload("w/fp32", "w", "fp32", 0.0, 1, 1, {"mm": 10, "add.Tensor": 30, "neg": 60}, {"mm": 1000},
                    1000, None, {})
    w = rollup.workload_coverage(rollup.roll_up(cases, results), {"w/fp32": step})["w/fp32"]
    assert (w["calls_covered"], w["calls_total"]) == (40, 100)
    assert w["flops_fraction"] == 1.0
    assert w["uncovered"][0] == {"op": "neg", "calls": 60, "flops": 0, "status": "mismatch"}

import argparse
import io
import json

import pytest

from deeplink.opset.listing import STATUSES, add_ops_arguments, collect_ops, run_ops_command


def parse(*argv):
    return add_ops_arguments(argparse.ArgumentParser(prog="deeplink ops")).parse_args(argv)


def fake_status(op):
    """A stand-in for deeplink.route_of: a deterministic mix of the four statuses."""
    return STATUSES[sum(map(ord, op)) % 4]


def test_arguments_and_defaults():
    args = parse()
    assert args.tier == "all" and args.backend is None and args.json is False
    args = parse("--tier", "llm", "--backend", "cpu", "--json")
    assert (args.tier, args.backend, args.json) == ("llm", "cpu", True)
    with pytest.raises(SystemExit):
        parse("--tier", "fast")


def test_json_shape(opset):
    out = io.StringIO()
    assert run_ops_command(parse("--tier", "llm", "--backend", "cpu", "--json"), fake_status,
                           out=out, opset=opset) == 0
    doc = json.loads(out.getvalue())
    assert set(doc) == {"schema_version", "tier", "torch_version", "backends", "count", "totals",
                        "ops", "disagreements"}
    assert doc["tier"] == "llm" and doc["backends"] == ["cpu"] and doc["count"] == len(doc["ops"]) == 60
    assert set(doc["totals"]["cpu"]) == set(STATUSES)
    assert sum(doc["totals"]["cpu"].values()) == doc["count"]
    op = next(o for o in doc["ops"] if o["op"] == "mm")
    assert op["status"] == {"cpu": fake_status("mm")}
    assert set(op) >= {"op", "schema", "kind", "tags", "tiers", "cuda_kernel", "cuda_kernel_source",
                       "cuda_dtypes", "status"}
    assert [o["op"] for o in doc["ops"]] == sorted(o["op"] for o in doc["ops"])


@pytest.mark.parametrize("tier", ["llm", "core", "cuda", "all"])
def test_tier_filtering(opset, tier):
    doc = collect_ops(opset, tier, {"b": fake_status})
    names = [o["op"] for o in doc["ops"]]
    assert names == [e.name for e in opset.tier(tier)]
    if tier != "all":
        assert all(tier in o["tiers"] for o in doc["ops"])


def test_table_has_rows_and_totals(opset):
    out = io.StringIO()
    run_ops_command(parse("--tier", "llm"), lambda op: "native", out=out, opset=opset)
    text = out.getvalue()
    assert "_scaled_dot_product_efficient_attention" in text
    assert "totals active: native 60, decomposed 0, fallback 0, missing 0 (100.0% native)" in text


def test_several_backends_get_a_column_each(opset):
    doc = collect_ops(opset, "core", {"cpu": lambda op: "native", "npu": lambda op: "missing"})
    assert doc["backends"] == ["cpu", "npu"]
    assert doc["totals"]["cpu"]["native"] == doc["totals"]["npu"]["missing"] == doc["count"]


def test_bad_status_names_op_and_backend(opset):
    with pytest.raises(ValueError, match=r"'cpu'.*'maybe'.*_foreach_add_\.Scalar"):
        collect_ops(opset, "llm", {"cpu": lambda op: "maybe"})


def test_listed_disagreements_are_shown(opset):
    doc = collect_ops(opset, "all", {"b": fake_status})
    listed = {o["op"] for o in doc["ops"]}
    assert {d["op"] for d in doc["disagreements"]} == {d.op for d in opset.disagreements} & listed

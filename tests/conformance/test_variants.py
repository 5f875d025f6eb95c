"""Variants of golden samples (conformance/variants.py): what each one changes, what it rolls up
under, and that its checks catch what it is there for. Runs on ATen CPU in this process."""
import pytest
import torch

from deeplink.conformance import variants
from deeplink.conformance.cases import build_cases
from deeplink.conformance.golden import FORWARD


@pytest.mark.parametrize("variant", ["strided", "transposed", "channels_last", "expanded"])
def test_relayout_keeps_values_and_changes_strides(variant):
    t = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    if variant == "expanded":
        t = variants.revalue(t, "expanded")
    r = variants.relayout(t, variant)
    assert torch.equal(r, t)
    assert not r.is_contiguous()
    if variant == "strided":
        assert r.storage_offset() == 1
    if variant == "expanded":
        assert r.stride()[0] == 0


def test_extremal_values_never_share_a_position_between_inputs():
    a = variants.revalue(torch.zeros(6), "extremal", 0)
    b = variants.revalue(torch.zeros(6), "extremal", 1)
    assert a[0].isnan() and not b[0].isnan()
    assert b[3].isnan() and a[1] == float("inf")
    assert torch.equal(variants.revalue(torch.arange(3), "extremal"), torch.arange(3))   # integers untouched


def test_ties_have_equal_values():
    t = variants.revalue(torch.randn(50, generator=torch.Generator().manual_seed(0)) * 8, "ties")
    assert t.unique().numel() <= 5


def test_inplace_and_out_roll_up_under_their_own_overloads():
    assert variants.rolled_up_under("inplace", ["add.Tensor"]) == ["add_.Tensor"]
    assert variants.rolled_up_under("out", ["add.Tensor"]) == ["add.out"]
    assert variants.rolled_up_under("out", ["max.dim"]) == ["max.dim_max"]
    assert variants.rolled_up_under("inplace", ["argmax"]) == ["argmax"]     # none: the plain overload
    assert variants.rolled_up_under("strided", ["neg"]) == ["neg"]


def _variant_payloads(key: str, dtype="float32"):
    from deeplink.conformance import golden as golden_mod

    files = [f for f in golden_mod.shipped() if f.dtype == dtype and f.kind == FORWARD]
    cases = build_cases({(FORWARD, dtype): golden_mod.load(files[0])}, [dtype], rf"^{key}$",
                        include_llm=False, include_gradients=False)
    return [c for c in cases if c.source == "variant"]


@pytest.fixture(scope="module")
def maximum_cases():
    return _variant_payloads("maximum")


def test_cases_cover_every_variant_kind(maximum_cases):
    kinds = {c.payload["variant"] for c in maximum_cases}
    assert {"strided", "transposed", "expanded", "extremal", "out"} <= kinds
    out = [c for c in maximum_cases if c.payload["variant"] == "out"]
    assert out and all(c.aten == ["maximum.out"] for c in out)


def _program(cases, variant):
    from deeplink.conformance.programs import build

    case = next(c for c in cases if c.payload["variant"] == variant)
    return build(case.payload)


@pytest.mark.parametrize("variant", ["strided", "transposed", "expanded", "extremal", "out"])
def test_correct_op_passes_on_aten_cpu(maximum_cases, variant):
    program = _program(maximum_cases, variant)
    assert program.reference == "aten-cpu-float64"
    comparison = program.check(program.execute("cpu"))
    assert comparison.ok, comparison.problems


def test_extremal_variant_catches_a_max_that_drops_nan(maximum_cases):
    program = _program(maximum_cases, "extremal")
    good = program.execute("cpu")
    a, b = (t.clone() for t in (program.inputs[0], program.inputs[1][0]))
    dropped = torch.where(a > b, a, b)
    assert not program.check({**good, "result": dropped}).ok


def test_out_variant_catches_an_ignored_out(maximum_cases):
    program = _program(maximum_cases, "out")
    got = program.execute("cpu")
    assert program.check(got).ok
    ignored = {"out": [torch.empty(0)], "returned_out": False}
    problems = program.check(ignored).problems
    assert any("did not return" in p for p in problems) and any("shape" in p for p in problems)


def test_functional_variant_catches_a_changed_input(maximum_cases):
    program = _program(maximum_cases, "strided")
    got = program.execute("cpu")
    inp, args, kwargs = got["inputs_after"]
    inp.add_(1)
    assert any("input[0] was changed" in p for p in program.check(got).problems)


def test_inplace_variant_needs_self_written_and_returned():
    cases = _variant_payloads("mul")
    program = _program(cases, "inplace")
    got = program.execute("cpu")
    assert got["returned_self"] and program.check(got).ok
    stale = {"self": program.inputs[0].clone(), "returned_self": False}
    problems = program.check(stale).problems
    assert any("did not return self" in p for p in problems) and len(problems) >= 2


def test_sparse_inputs_get_no_variants():
    sample = {"input": torch.eye(3).to_sparse(), "args": (), "kwargs": {}}
    assert variants.applicable(sample, "to_dense", None) == []
    dense = {"input": torch.eye(3), "args": (), "kwargs": {}}
    assert "strided" in variants.applicable(dense, "neg", None)


def test_a_variant_aten_cpu_refuses_is_skip_not_error():
    from deeplink.conformance.case_errors import SkipCase
    from deeplink.conformance.programs import build

    case = next(c for c in _variant_payloads("mul") if c.payload["variant"] == "inplace")
    payload = dict(case.payload, sample=dict(case.payload["sample"], input=torch.zeros(0, 1, 3),
                                             args=(torch.ones(0, 10, 3),)))
    with pytest.raises(SkipCase, match="ATen CPU refuses the inplace variant"):
        build(payload)

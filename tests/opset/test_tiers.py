"""Tier sizes, known members and the rules that define each tier, on the installed torch's yaml.

Sizes depend on the torch version (2.13 here, 2.11 on the GPU machine), so they are checked
against ranges; the llm tier comes from the packaged workload file and is exact.
"""
import pytest

from deeplink.opset import workloads
from deeplink.opset.build import build_opset
from deeplink.opset.installed_torch import TorchFacts


def test_tier_sizes_are_plausible(opset):
    sizes = opset.tier_sizes()
    assert sizes["llm"] == len(workloads.llm_ops()) == 60
    assert 180 <= sizes["core"] <= 210, sizes
    assert 600 <= sizes["cuda"] <= 700, sizes


def test_tiers_are_stable_across_builds(opset):
    again = build_opset(torch_facts=TorchFacts())      # no torch query: tiers do not depend on it
    assert again.tiers == opset.tiers


@pytest.mark.parametrize("name, tiers", [
    ("mm", {"llm", "core", "cuda"}),
    ("addmm", {"llm", "core", "cuda"}),
    ("add.Tensor", {"llm", "core", "cuda"}),
    ("native_layer_norm", {"llm", "core", "cuda"}),
    ("embedding_dense_backward", {"llm", "core", "cuda"}),
    ("_scaled_dot_product_efficient_attention", {"llm", "cuda"}),
    ("_scaled_dot_product_efficient_attention_backward", {"llm", "cuda"}),
    ("_scaled_dot_product_cudnn_attention", {"llm", "cuda"}),
    ("_scaled_dot_product_cudnn_attention_backward", {"llm", "cuda"}),
    ("_foreach_add_.Tensor", {"llm"}),           # in-place: a CUDA kernel, but not functional
    ("_foreach_lerp_.Scalar", {"llm"}),
    ("_foreach_sqrt", {"llm", "cuda"}),
    ("t", {"llm"}),                              # CompositeExplicitAutograd view, no CUDA kernel
    ("convolution", {"core"}),                   # CompositeExplicitAutograd, tagged core
    ("_scaled_dot_product_flash_attention", {"cuda"}),
])
def test_known_members(opset, name, tiers):
    assert set(opset[name].tiers) == tiers


def test_tier_rules_hold_for_every_entry(opset):
    for e in opset:
        assert ("core" in e.tiers) == ("core" in e.tags), e.name
        assert ("cuda" in e.tiers) == (e.functional and e.cuda_kernel), e.name
        assert ("llm" in e.tiers) == (e.name in workloads.llm_ops()), e.name


def test_every_workload_op_is_in_the_opset(opset):
    missing = [d for d in opset.disagreements if d.subject == "llm workload op"]
    assert missing == []
    assert {e.name for e in opset.tier("llm")} == workloads.llm_ops()


def test_all_is_the_union_of_the_tiers(opset):
    union = set(opset.tiers["llm"]) | set(opset.tiers["core"]) | set(opset.tiers["cuda"])
    assert [e.name for e in opset.tier("all")] == sorted(union)


def test_unknown_tier_and_unknown_op_say_what_exists(opset):
    with pytest.raises(KeyError, match="tiers are"):
        opset.tier("fast")
    with pytest.raises(KeyError, match="did you mean"):
        opset["add.tensor"]


def test_entry_fields(opset):
    e = opset["add.Tensor"]
    assert e.schema == "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"
    assert e.kind == "functional" and e.structured_delegate == "add.out"
    assert "pointwise" in e.tags
    assert e.cuda_kernel and e.cuda_kernel_source == "both"
    assert opset["add_.Tensor"].kind == "inplace"
    assert opset["add.out"].kind == "out"
    assert opset["t"].composite == "CompositeExplicitAutograd" and not opset["t"].cuda_kernel


def test_autogen_overloads_get_their_schema_from_torch(opset):
    e = opset["_foreach_add.Scalar_out"]
    assert e.origin == "autogen" and e.kind == "out"
    assert e.schema.startswith("_foreach_add.Scalar_out(")

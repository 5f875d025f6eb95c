"""The yaml-derived CUDA kernels against what a real CUDA build registers: every difference is
reported as a Disagreement, none is silently resolved."""
import json

from deeplink.opset.build import build_opset
from deeplink.opset.installed_torch import TorchFacts
from deeplink.opset.native_yaml import read_native_functions, resolve_kernel_keys
from deeplink.opset.paths import data_file
from deeplink.opset.registrations import load_registrations


def test_every_difference_with_the_registrations_is_reported(opset):
    keys = resolve_kernel_keys(read_native_functions())
    registered = load_registrations().by_key["CUDA"]
    yaml_cuda = {name for name, k in keys.items() if "CUDA" in k}
    differ = (yaml_cuda ^ registered)
    reported = {d.op for d in opset.disagreements if d.subject == "cuda kernel"}
    assert reported == differ
    # the two sources agree on nearly everything; what is left is version skew (2.13 yaml, 2.11 build)
    assert len(differ) < 30, sorted(differ)
    for d in opset.disagreements:
        assert d.likely_cause


def test_registrations_loaded(opset):
    regs = load_registrations()
    assert regs.torch_version == "2.11.0+cu130"
    assert len(regs.by_key["CUDA"]) == 1262
    assert "add.Tensor" in regs.by_key["CUDA"]
    assert opset.registrations_torch_version == "2.11.0+cu130"


def test_synthetic_disagreements_are_reported_both_ways(tmp_path):
    raw = json.loads(data_file("cuda_registrations.json").read_text())
    cuda = [n for n in raw["registrations"]["CUDA"] if n != "aten::mm"] + ["aten::made_up_op.Tensor",
                                                                             "aten::t"]
    raw["registrations"]["CUDA"] = cuda
    path = tmp_path / "registrations.json"
    path.write_text(json.dumps(raw))
    ops = build_opset(registrations_path=path, torch_facts=TorchFacts())
    found = {d.op: d for d in ops.disagreements}
    # yaml says mm has a CUDA kernel, the registrations do not: kept as a kernel, source "yaml"
    assert found["mm"].yaml_says == "CUDA kernel" and found["mm"].other_says == "no CUDA kernel registered"
    assert ops["mm"].cuda_kernel and ops["mm"].cuda_kernel_source == "yaml"
    # registered but not in the yaml's CUDA keys: a kernel, source "registrations"
    assert found["t"].yaml_says == "no CUDA kernel"
    assert ops["t"].cuda_kernel_source == "registrations" and "cuda" in ops["t"].tiers
    # registered, but no such overload in this torch at all
    assert found["made_up_op.Tensor"].yaml_says == "no such overload"
    assert ops["add.Tensor"].cuda_kernel_source == "both"


def test_yaml_rules_match_the_live_cpu_registrations_of_the_same_torch():
    """Same-version check of the resolution rules (structured_delegate, ufunc, composites): the
    yaml's CPU kernels against what this very torch registers for CPU. The CUDA check above mixes
    versions (the reference build is 2.11); this one does not."""
    import torch
    keys = resolve_kernel_keys(read_native_functions())
    live = {n[len("aten::"):] for n in torch._C._dispatch_get_registrations_for_dispatch_key("CPU")
            if n.startswith("aten::")}
    derived = {name for name, k in keys.items() if "CPU" in k}
    assert derived - live == set()
    # kernels registered by hand in C++ rather than through the yaml (quantized RNNs in 2.13)
    assert len(live - derived) <= 10, sorted(live - derived)


def test_autogen_names_torch_does_not_generate_are_left_out(opset):
    assert "prelu.out" not in opset                       # autogen on a CompositeImplicitAutograd op
    assert "_foreach_add.Scalar_out" in opset
    assert all(e.schema for e in opset), "with torch answering, every overload has a schema"
    assert any("left out" in n for n in opset.notes)

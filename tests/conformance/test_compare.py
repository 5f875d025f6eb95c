"""The tolerance policy and the comparison: what passes, what fails, and the reasons given."""
import math

import torch

from deeplink.conformance.compare import compare_tensors, compare_trees
from deeplink.conformance.tolerance import EXACT, default_for, for_case, policy_json

F32 = default_for(torch.float32)


def test_defaults_are_assert_close_defaults():
    assert (F32.rtol, F32.atol) == (1.3e-6, 1e-5)
    bf16 = default_for(torch.bfloat16)
    assert (bf16.rtol, bf16.atol) == (1.6e-2, 1e-5)
    assert default_for(torch.int64) is EXACT and default_for(torch.bool) is EXACT


def test_equal_and_within_tolerance_pass():
    e = torch.linspace(-3, 3, 100)
    assert compare_tensors(e.clone(), e, F32, "x").ok
    c = compare_tensors(e * (1 + 1e-7), e, F32, "x")
    assert c.ok and c.max_abs > 0 and c.tol_ratio < 1


def test_noise_above_tolerance_fails_with_a_useful_message():
    e = torch.linspace(-3, 3, 100)
    c = compare_tensors(e + 0.01, e, F32, "out")
    assert not c.ok
    assert "100 of 100 elements outside" in c.problems[0] and "out" in c.problems[0]
    assert math.isclose(c.max_abs, 0.01, rel_tol=1e-3)


def test_rare_outlier_allowed_by_ratio_but_not_a_wrong_value():
    e = torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    a = e.clone()
    a[7] += 5 * (F32.atol + F32.rtol * abs(float(e[7])))   # 5x the bound, 1 element in 10k
    assert compare_tensors(a, e, F32, "x").ok
    a[7] = e[7] + 1.0                                      # a wrong value: far beyond outlier_factor
    c = compare_tensors(a, e, F32, "x")
    assert not c.ok and c.mismatch_ratio == 1e-4


def test_normwise_rule_accepts_reduction_order_noise_only():
    e = torch.full((1000,), 1e3)
    a = e.clone()
    a[:100] += 1e3 * 5e-6          # 10% of elements off by 5e-6 relative: element-wise fails
    c = compare_tensors(a, e, F32, "x")
    assert c.ok and c.via_normwise
    a[:100] += 1.0                 # now 1e-3 relative: norm-wise fails too
    assert not compare_tensors(a, e, F32, "x").ok


def test_nan_inf_integers_shapes_dtypes():
    nan = float("nan")
    assert compare_tensors(torch.tensor([nan, math.inf, 1.0]), torch.tensor([nan, math.inf, 1.0]), F32, "x").ok
    assert not compare_tensors(torch.tensor([nan, 1.0]), torch.tensor([0.0, 1.0]), F32, "x").ok
    assert not compare_tensors(torch.tensor([-math.inf]), torch.tensor([math.inf]), F32, "x").ok
    assert not compare_tensors(torch.tensor([1, 2]), torch.tensor([1, 3]), EXACT, "i").ok
    assert "shape" in compare_tensors(torch.zeros(2), torch.zeros(3), F32, "x").problems[0]
    assert "dtype" in compare_tensors(torch.zeros(2, dtype=torch.float64), torch.zeros(2), F32, "x").problems[0]


def test_trees_and_python_values():
    assert compare_trees((torch.ones(2), 3, None), (torch.ones(2), 3, None), F32).ok
    assert not compare_trees((torch.ones(2), 3), (torch.ones(2), 4), F32).ok
    assert not compare_trees((torch.ones(2),), (torch.ones(2), torch.ones(1)), F32).ok
    assert compare_trees(1.0 + 1e-9, 1.0, F32).ok


def test_overrides_apply_to_their_ops_only_and_are_reported():
    conv = for_case(torch.float32, ["nn.functional.conv3d", "convolution"], kind="forward")
    assert conv.normwise_rtol == 5e-3 and "tf32-convolution" in conv.source
    assert for_case(torch.float32, ["add", "add.Tensor"]) == default_for(torch.float32)
    assert for_case(torch.float32, ["logcumsumexp"], kind="forward").normwise_rtol == F32.normwise_rtol
    policy = policy_json()
    assert {o["name"] for o in policy["deeplink_overrides"]} >= {"tf32-convolution"}
    assert all(o["reason"] for o in policy["deeplink_overrides"])

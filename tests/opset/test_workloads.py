from deeplink.opset import workloads


def test_four_workloads_with_normalized_names():
    ws = workloads.load_workloads()
    assert set(ws) == {"llama-small/bf16-autocast", "llama-small/fp32",
                       "gpt2-124m/bf16-autocast", "gpt2-124m/fp32"}
    llama = ws["llama-small/bf16-autocast"]
    assert llama.model == "llama-small" and llama.precision == "bf16-autocast"
    assert llama.calls["mm"] == 171 and llama.calls["add.Tensor"] == 139
    assert "_scaled_dot_product_cudnn_attention" in llama.calls
    assert "_scaled_dot_product_efficient_attention" in ws["gpt2-124m/fp32"].calls
    assert all(not op.startswith("aten.") for op in llama.calls)
    assert set(llama.other_calls) == {"profiler._record_function_enter_new.default",
                                      "profiler._record_function_exit._RecordFunction"}


def test_flops_and_step_times():
    for w in workloads.load_workloads().values():
        assert sum(w.flops.values()) == w.total_flops
        assert set(w.flops) <= set(w.calls)        # FLOPs attached to overloads the step calls
        assert w.step_time_ms and w.step_time_ms > 0
    llama = workloads.load_workloads()["llama-small/bf16-autocast"]
    assert llama.step_time_ms == 46.5
    assert llama.flops["mm"] == 6661494276096


def test_coverage():
    w = workloads.load_workloads()["llama-small/fp32"]
    full = w.coverage(lambda op: True)
    assert full.calls_fraction == 1.0 and full.flops_fraction == 1.0 and full.uncovered == ()
    no_mm = w.coverage(lambda op: op != "mm")
    assert no_mm.uncovered == ("mm",)
    assert no_mm.calls_total - no_mm.calls_covered == w.calls["mm"]
    assert 0.0 < no_mm.flops_fraction < 0.2        # mm carries most of the FLOPs
    none = w.coverage(lambda op: False)
    assert none.calls_fraction == 0.0
    assert none.uncovered[0] == max(w.calls, key=w.calls.get)     # most-called first


def test_llm_ops_is_the_union():
    ws = workloads.load_workloads()
    assert workloads.llm_ops() == frozenset().union(*(w.ops for w in ws.values()))
    assert 45 <= min(len(w.ops) for w in ws.values())


def test_ambiguous_flops_are_an_error(tmp_path):
    import json
    import pytest
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"workloads": {"m/fp32": {
        "calls": {"aten.add.Tensor": 1, "aten.add.Scalar": 1}, "flops": {"aten.add": 5}, "total_flops": 5}}}))
    with pytest.raises(ValueError, match="aten.add"):
        workloads.load_workloads(path, tmp_path / "no-step-times.json")

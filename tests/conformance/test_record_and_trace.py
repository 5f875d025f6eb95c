"""`conformance record` (on the CPU here: the same code records CUDA golden data on a GPU) and
`conformance trace` (a model's aten calls as a workload file)."""
import json


from deeplink.conformance.cli import main
from deeplink.conformance.golden import describe_user_file, load_raw, user_files


def test_record_then_replay(tmp_path):
    ops = r"^(abs|svd|softmax|uniform)$"
    folder = tmp_path / "recorded"
    assert main(["record", "--device", "cpu", "--ops", ops, "--dtypes", "float32", "--out", str(folder)]) == 0
    fwd, grad = folder / "golden_float32.pt.xz", folder / "golden_grad_float32.pt.xz"
    listed = user_files(folder)                                   # MANIFEST.json with sha256s
    assert {(f.kind, f.dtype) for f in listed} == {("forward", "float32"), ("gradients", "float32")}
    assert all(f.sha256 == describe_user_file(f.path).sha256 for f in listed)
    data = load_raw(fwd)
    assert data["meta"]["kind"] == "forward" and data["meta"]["dtype"] == "torch.float32"
    assert set(data["ops"]) == {"abs", "svd", "softmax", "uniform"}
    assert data["ops"]["uniform"]["nondeterministic"] and not data["ops"]["abs"]["nondeterministic"]
    svd = data["ops"]["svd"]["samples"]
    assert svd and all(s["processed"] for s in svd)                # output_process_fn_grad marked
    assert all(s["aten"] and s["aten"][0].startswith("aten.") for s in data["ops"]["abs"]["samples"])
    g = load_raw(grad)
    sample = g["ops"]["softmax"]["samples"][0]
    assert sample["grads"][0].shape == sample["input"].shape and sample["aten_backward"]
    assert describe_user_file(grad).kind == "gradients"

    from deeplink.conformance.runner import RunOptions, run
    opts = RunOptions(backend="reference", out_dir=tmp_path / "replay", golden=[str(folder)],
                      ops=ops, jobs=0, include_llm=False, progress=False)
    report = run(opts, log=lambda m: None)["report"]
    assert {g["sha256"] for g in report["golden"]} == {describe_user_file(fwd).sha256,
                                                       describe_user_file(grad).sha256}
    statuses = {x["status"] for x in report["samples"]}
    assert statuses == {"pass"}, [x for x in report["samples"] if x["status"] != "pass"][:3]


MODEL = '''
import torch

def make():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4),
                                torch.nn.LogSoftmax(-1))
    return model, (torch.randn(2, 8),)
'''


def test_trace_a_model_into_a_workload(tmp_path):
    model_file = tmp_path / "tiny_model.py"
    model_file.write_text(MODEL)
    out = tmp_path / "tiny_workload.json"
    assert main(["trace", "--model", f"{model_file}:make", "--out", str(out), "--optimizer", "adamw"]) == 0
    traced = json.loads(out.read_text())["workloads"]["make/fp32"]
    assert traced["calls"]["aten.addmm.default"] == 2 and traced["total_flops"] > 0
    assert any(k.startswith("aten._foreach_") for k in traced["calls"])

    from deeplink.opset.workloads import load_workloads
    workload = load_workloads(out)["make/fp32"]
    assert workload.calls["addmm"] == 2 and workload.flops["addmm"] > 0

    from deeplink.conformance.runner import RunOptions, run
    opts = RunOptions(backend="cpu", out_dir=tmp_path / "run", ops=r"^(nn\.functional\.linear|addmm)$",
                      workloads=[str(out)], jobs=0, include_gradients=False, include_llm=False,
                      progress=False)
    report = run(opts, log=lambda m: None)["report"]
    w = report["summary"]["workload_coverage"]["make/fp32"]
    assert w["calls_covered"] > 0 and w["flops_fraction"] == 1.0        # addmm carries every FLOP
    assert any(u["op"] == "gelu" for u in w["uncovered"])              # not in the --ops subset


def test_recording_runs_in_a_process_without_deeplink(tmp_path):
    """Native CUDA backward breaks once deeplink registers PrivateUse1 (pytorch#161129), so the
    recorder runs in a fresh interpreter; the bootstrap asserts deeplink never got imported."""
    from deeplink.conformance.record import record_all_clean
    entries = record_all_clean("cpu", tmp_path, ["float32"], ["forward"], r"^abs$")
    assert [e["file"] for e in entries] == ["golden_float32.pt.xz"] and entries[0]["samples"] > 0


def test_gradients_refused_where_device_autograd_is_broken():
    import pytest

    import deeplink  # noqa: F401  (registers PrivateUse1 in this process)
    from deeplink.conformance.record import _check_autograd_usable
    with pytest.raises(RuntimeError, match="pytorch/pytorch#161129"):
        _check_autograd_usable("cuda")

"""Mixed vendors in one job: rank 0 on the cpu backend, rank 1 on onnxruntime, rank 2 on the
emulated Ascend train one model. cpu and onnxruntime meet in gloo on zero-copy host views; the
Ascend rank's HCCL cannot reach them, so it stages through host memory. The results equal one
process training on the whole batch (which test_training shows equals single-vendor DDP), and
each rank's process group says which path its collectives took."""
import json

import pytest
import torch

from launch import python, torchrun

ARGS = ["--steps", "5", "--global-batch", "6"]
TOL = dict(rtol=1e-4, atol=1e-5)  # three vendors' kernels: fp32, different operation orders
VENDORS = ["--backend", "cpu,onnxruntime,ascend", "--plugin", "ascend_emulator.plugin:register"]
EXPECTED_PATHS = {0: "gloo:host-view", 1: "gloo:host-view", 2: "gloo:staged-mixed"}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    python("train.py", ["--mode", "single", "--backend", "cpu", *ARGS], out).ok()
    return json.loads((out / "losses.json").read_text()), torch.load(out / "params.pt")


def check(run, single):
    run.ok()
    losses, params = single
    torch.testing.assert_close(torch.tensor(json.loads((run.out / "losses.json").read_text())), torch.tensor(losses),
                               **TOL)
    got = torch.load(run.out / "params.pt")
    for name in params:
        torch.testing.assert_close(got[name], params[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")
    for r, path in EXPECTED_PATHS.items():
        res = run.rank(r)
        assert res["backend"] == ["cpu", "onnxruntime", "ascend"][r]
        assert res["describe"]["library"] == "gloo" and res["describe"]["path"] == path
        assert [o["library"] for o in res["describe"]["offers"]] == ["gloo", "gloo", "hccl"]
        used = {p for coll in res["stats"]["0"].values() for p in coll}
        assert path in used and used <= {path, "gloo:cpu"}, res["stats"]
        assert res["fallbacks"] == {}, res["fallbacks"]


def test_ddp_across_cpu_onnxruntime_and_ascend(tmp_path, single, ascend_home):
    run = torchrun("train.py", 3, ["--mode", "ddp", *VENDORS, *ARGS], tmp_path, timeout=600,
                   env={"DEEPLINK_FALLBACK": "error"})
    check(run, single)


@pytest.mark.slow
def test_fsdp2_across_cpu_onnxruntime_and_ascend(tmp_path, single, ascend_home):
    run = torchrun("train.py", 3, ["--mode", "fsdp", *VENDORS, *ARGS], tmp_path, timeout=600,
                   env={"DEEPLINK_FALLBACK": "error"})
    check(run, single)

"""DDP and FSDP2 train the small LLaMA-style model on deeplink tensors (DEEPLINK_FALLBACK=error)
for 5 AdamW steps; the losses and final parameters equal one process training on the same
global batch, to fp32 tolerance. 2 ranks here; 4 ranks are slow (`make test-slow`)."""
import json

import pytest
import torch

from launch import python, torchrun

STEPS = ["--steps", "5", "--global-batch", "8"]
STRICT = {"DEEPLINK_FALLBACK": "error"}
# Different reduction orders (a sum split over ranks) move the last bits; AdamW then carries them.
TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    python("train.py", ["--mode", "single", "--backend", "cpu", *STEPS], out, env=STRICT).ok()
    losses, params = json.loads((out / "losses.json").read_text()), torch.load(out / "params.pt")
    from deeplink.models import tiny_model
    init = tiny_model("llama").state_dict()
    assert all(not torch.equal(params[k], init[k]) for k in params if k.endswith("proj.weight"))  # it trained
    return losses, params


def compare(out, reference):
    losses, params = reference
    got_losses = json.loads((out / "losses.json").read_text())
    got = torch.load(out / "params.pt")
    torch.testing.assert_close(torch.tensor(got_losses), torch.tensor(losses), **TOL)
    assert got.keys() == params.keys()
    for name in params:
        torch.testing.assert_close(got[name], params[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")


def run(mode, nproc, out, reference):
    result = torchrun("train.py", nproc, ["--mode", mode, "--backend", "cpu", *STEPS], out, env=STRICT, timeout=600)
    result.ok()
    compare(out, reference)
    for r in range(nproc):
        res = result.rank(r)
        assert res["fallbacks"] == {}
        paths = {p for coll in res["stats"]["0"].values() for p in coll}
        assert paths <= {"gloo:host-view", "gloo:cpu"}, res["stats"]
    return result


def test_ddp_two_ranks(tmp_path, reference):
    res = run("ddp", 2, tmp_path, reference)
    assert res.rank(0)["stats"]["0"]["all_reduce"]["gloo:host-view"]["calls"] >= 5  # gradient buckets


def test_fsdp2_two_ranks(tmp_path, reference):
    res = run("fsdp", 2, tmp_path, reference)
    stats = res.rank(0)["stats"]["0"]
    assert stats["all_gather_into_tensor"]["gloo:host-view"]["calls"] > 0
    assert stats["reduce_scatter_tensor"]["gloo:host-view"]["calls"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_four_ranks(tmp_path, reference, mode):
    run(mode, 4, tmp_path, reference)

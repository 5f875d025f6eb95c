"""The cuda backend's collectives (NCCL on CUDA views) on a GPU machine: the collectives matrix
with 1 rank, and with 2 ranks where there are 2 GPUs (NCCL refuses two ranks on one GPU), then
DDP. Marked `cuda`: run with `pytest -m cuda tests/distributed/test_nccl.py` on a machine with a
GPU and a CUDA build of torch. NOT RUN on the machine this was written on (no GPU)."""
import pytest
import torch

from launch import torchrun

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch")]


@pytest.mark.parametrize("nproc", [1, 2])
def test_collectives_over_nccl(tmp_path, nproc):
    if nproc > torch.cuda.device_count():
        pytest.skip(f"{nproc} ranks need {nproc} GPUs (NCCL does not put two ranks on one GPU)")
    run = torchrun("collectives.py", nproc, ["--backend", "cuda"], tmp_path, timeout=900).ok()
    for r in range(nproc):
        res = run.rank(r)
        assert res["failures"] == [], res["failures"][:5]
        assert res["describe"]["path"] == "nccl"


def test_ddp_over_nccl(tmp_path):
    nproc = min(2, torch.cuda.device_count())
    run = torchrun("train.py", nproc, ["--mode", "ddp", "--backend", "cuda", "--steps", "5", "--global-batch", "8"],
                   tmp_path, timeout=900, env={"DEEPLINK_FALLBACK": "error"}).ok()
    assert run.rank(0)["stats"]["0"]["all_reduce"]["nccl"]["calls"] >= 5

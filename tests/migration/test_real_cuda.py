"""On a machine with CUDA: `deeplink run --backend cuda` runs a CUDA program's CUDA through deeplink
(deeplink tensors in CUDA memory, the real GPU's properties). Skipped without a GPU; run with
`pytest -m cuda tests/migration`."""
import pytest
import torch

from migration.run_script import deeplink_run, json_lines

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _needs_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU and a CUDA build of torch")


def test_plain_loop_on_the_cuda_backend():
    r = json_lines(deeplink_run("plain_loop.py", options=["--backend", "cuda"]))[-1]
    assert r["device"] == "deeplink:0" and r["is_cuda"] and r["restored_equal"]
    assert r["props"][0] == torch.cuda.get_device_properties(0).name       # the real GPU, not an adapter
    assert r["loss_last"] < r["loss_first"]


def test_amp_on_the_cuda_backend():
    r = json_lines(deeplink_run("amp_gradscaler.py", options=["--backend", "cuda"]))[-1]
    assert r["dtypes"]["autocast_out"] == "torch.float16" and r["scaler_devices"] == ["deeplink"] * 3

"""torch.utils on the deeplink device: DLPack."""
import torch

import deeplink  # noqa: F401


def test_dlpack_round_trip():
    x = torch.randn(2, 3).to("deeplink")
    y = torch.from_dlpack(torch.utils.dlpack.to_dlpack(x))
    assert y.device == x.device
    assert torch.equal(y.cpu(), x.cpu())

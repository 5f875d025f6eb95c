"""torch.autocast("deeplink"): CUDA's cast policies, its refusals, and GradScaler."""
import pytest
import torch

import deeplink  # noqa: F401


def test_lower_precision_and_fp32_ops():
    with torch.autocast("deeplink", dtype=torch.float16):
        x, y = torch.randn(2, 3, device="deeplink"), torch.randn(3, 3, device="deeplink")
        assert torch.mm(x, y).dtype == torch.float16
        h = torch.randn(4, device="deeplink", dtype=torch.float16)
        assert torch.dot(h, h).dtype == torch.float16 and h.float().softmax(0).dtype == torch.float32
        assert torch.nn.functional.softmax(h, 0).dtype == torch.float32  # fp32 op list
    assert torch.get_autocast_dtype("deeplink") == torch.float16
    with torch.autocast("deeplink", dtype=torch.bfloat16):
        assert (torch.randn(2, 2, device="deeplink") @ torch.randn(2, 2, device="deeplink")).dtype == torch.bfloat16


def test_unsupported_autocast_dtype_warns():
    with pytest.warns(UserWarning, match="In deeplink autocast, but the target dtype .*is not supported"):
        with torch.autocast(device_type="deeplink", dtype=torch.float32):
            torch.ones(2)


def test_binary_cross_entropy_is_refused_as_under_cuda():
    p, t = torch.rand(4, device="deeplink"), torch.rand(4, device="deeplink")
    with torch.autocast("deeplink", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="unsafe to autocast.*binary_cross_entropy_with_logits"):
            torch.nn.functional.binary_cross_entropy(p, t)
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            torch.nn.BCELoss()(p, t)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(p, t)  # the safe form works
    assert loss.dtype == torch.float32
    assert torch.nn.functional.binary_cross_entropy(p, t).dim() == 0  # outside autocast it is allowed


def test_grad_scaler_steps():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).to("deeplink")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.deeplink.amp.GradScaler(init_scale=2.0 ** 8)
    before = model.weight.detach().cpu().clone()
    with torch.deeplink.amp.autocast(dtype=torch.float16):
        loss = model(torch.randn(8, 4, device="deeplink")).float().pow(2).mean()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    assert not torch.equal(model.weight.detach().cpu(), before)
    assert scaler.get_scale() == 2.0 ** 8

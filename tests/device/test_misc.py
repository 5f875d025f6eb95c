"""PrivateUse1 registration details: backend name, generated methods, type strings, aliases."""
import pytest
import torch

import deeplink  # noqa: F401


def test_backend_name_is_fixed():
    assert torch._C._get_privateuse1_backend_name() == "deeplink"
    torch.utils.rename_privateuse1_backend("deeplink")  # renaming to the same name is allowed
    with pytest.raises(RuntimeError, match="has already been set"):
        torch.utils.rename_privateuse1_backend("other")


def test_profiler_and_device_type_aliases():
    from torch._C._autograd import DeviceType
    from torch._C._profiler import ProfilerActivity
    assert ProfilerActivity.DEEPLINK == ProfilerActivity.PrivateUse1
    assert DeviceType.DEEPLINK == DeviceType.PrivateUse1


def test_generated_methods():
    x = torch.empty(4, 4)
    assert not x.is_deeplink
    for arg in (torch.device("deeplink"), "deeplink:0", 0):
        assert x.deeplink(arg).is_deeplink
    if torch.deeplink.device_count() > 1:
        assert x.deeplink(1).device.index == 1
    packed = torch.nn.utils.rnn.PackedSequence(torch.rand(5, 3), torch.tensor([1, 1, 1, 1, 1]))
    moved = packed.deeplink()
    assert moved.is_deeplink and moved.data.is_deeplink
    m = torch.nn.Linear(2, 2).deeplink()
    assert m.weight.is_deeplink


@pytest.mark.parametrize("dtype,name", [(torch.float32, "FloatTensor"), (torch.float64, "DoubleTensor"),
                                        (torch.half, "HalfTensor"), (torch.int64, "LongTensor"),
                                        (torch.bool, "BoolTensor"), (torch.uint8, "ByteTensor")])
def test_type_strings(dtype, name):
    assert torch.empty(2, dtype=dtype, device="deeplink").type() == f"torch.deeplink.{name}"

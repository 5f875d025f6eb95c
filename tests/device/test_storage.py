"""Storages of the deeplink device: serialization, location tags, backend metadata."""
import io

import torch

import deeplink  # noqa: F401

FLAGS = {"version_number": True, "format_number": True}


def test_location_tags_and_restore():
    assert torch.serialization.location_tag(torch.UntypedStorage(4, device="deeplink")) == "deeplink:0"
    restored = torch.serialization.default_restore_location(torch.empty(4).storage(), "deeplink:0")
    assert restored.is_deeplink
    if torch.deeplink.device_count() > 1:
        assert torch.serialization.location_tag(torch.UntypedStorage(4, device="deeplink:1")) == "deeplink:1"


def test_save_load_with_map_location():
    t = torch.randn(3, 3, device="deeplink")
    buf = io.BytesIO()
    torch.save(t, buf)
    buf.seek(0)
    back = torch.load(buf)
    assert back.is_deeplink and torch.equal(back.cpu(), t.cpu())
    buf.seek(0)
    assert torch.load(buf, map_location="cpu").is_cpu
    if torch.deeplink.device_count() > 1:
        buf.seek(0)
        assert torch.load(buf, map_location="deeplink:1").device.index == 1


def test_backend_metadata_is_kept():
    t = torch.empty(3, 3, device="deeplink")
    assert torch._utils.get_tensor_metadata(t) == {}
    torch._utils.set_tensor_metadata(t, FLAGS)
    assert torch._utils.get_tensor_metadata(t) == FLAGS
    assert torch._utils.get_tensor_metadata(t.detach()) == FLAGS  # shallow copies carry it
    buf = io.BytesIO()
    torch.save(t, buf)
    buf.seek(0)
    assert torch._utils.get_tensor_metadata(torch.load(buf)) == FLAGS
    buf.seek(0)
    assert torch._utils.get_tensor_metadata(torch.load(buf, map_location="cpu")) == {}


def test_storage_methods():
    t = torch.randn(4, 4, device="deeplink")
    s = t.storage()
    assert s.is_deeplink and s.size() == 16
    t.resize_(2, 2, 2, 2)
    assert t.storage().size() == 16
    u = torch.empty(4).untyped_storage().deeplink()
    assert u.is_deeplink and u.nbytes() == 16


def test_pinned_storage_rewrapped():
    pinned = torch.randn(10).pin_memory()
    view = torch.tensor((), dtype=torch.float32).set_(pinned.untyped_storage()[8:], size=(5,), stride=(1,),
                                                      storage_offset=0)
    assert view.is_pinned() and view.data_ptr() != pinned.data_ptr()

"""torch.deeplink next to torch.cuda: every public torch.cuda name of the installed torch is in
torch.deeplink or in docs/device.md's list of names left out (with the reason), and the names added
for a generic device behave as torch.cuda's do."""
import fnmatch
import inspect
import re
from pathlib import Path

import torch

import deeplink  # noqa: F401

DOC = Path(__file__).resolve().parents[2] / "docs" / "device.md"


def public_cuda_names() -> set[str]:
    """torch.cuda's public API: its functions, classes and constants and its own submodules, not the
    modules and typing helpers it imports (os, Optional, ...)."""
    out = set()
    for name in dir(torch.cuda):
        obj = getattr(torch.cuda, name)
        if name.startswith("_") or name == "TYPE_CHECKING":
            continue
        if inspect.ismodule(obj):
            if obj.__name__.startswith("torch.cuda."):
                out.add(name)
        elif str(getattr(obj, "__module__", None) or "torch").startswith("torch"):
            out.add(name)
    return out


def left_out() -> set[str]:
    text = DOC.read_text()
    section = re.search(r"<!-- cuda-names-left-out -->(.*?)<!-- end -->", text, re.S).group(1)
    return set(re.findall(r"`([\w*]+)`", section))


def test_every_cuda_name_is_in_torch_deeplink_or_listed_as_left_out():
    patterns = left_out()
    unaccounted = sorted(n for n in public_cuda_names() if not hasattr(torch.deeplink, n)
                         and not any(fnmatch.fnmatchcase(n, p) for p in patterns))
    assert not unaccounted, f"torch.cuda names neither in torch.deeplink nor in docs/device.md's list: {unaccounted}"
    assert len(public_cuda_names()) > 100  # the scan sees torch.cuda's API


def test_no_name_is_both_present_and_listed_as_left_out():
    present = sorted(p for p in left_out() if "*" not in p and hasattr(torch.deeplink, p))
    assert not present, f"docs/device.md lists these as left out, but torch.deeplink has them: {present}"


def test_names_added_for_a_generic_device():
    assert torch.deeplink.AcceleratorError is torch.AcceleratorError is torch.cuda.AcceleratorError
    assert torch.deeplink.has_half is True
    free, total = torch.deeplink.mem_get_info()
    used = torch.deeplink.device_memory_used()
    assert 0 <= used <= total and abs(used - (total - free)) <= total // 10  # free memory moves between the calls
    x = torch.ones(1024).pin_memory()
    nested = torch.deeplink.host_memory_stats_as_nested_dict()
    flat = torch.deeplink.host_memory_stats()
    for key, value in flat.items():
        node = nested
        for part in key.split("."):
            node = node[part]
        assert node == value
    assert x.is_pinned()
    for name in ("AcceleratorError", "has_half", "device_memory_used", "host_memory_stats_as_nested_dict"):
        assert name in torch.deeplink.__all__

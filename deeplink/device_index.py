"""The one helper that turns what users pass as a device (None, an int, "deeplink:1",
torch.device) into a deeplink device index."""
from __future__ import annotations

import torch

from . import _C


def index_of(dev) -> int:
    if dev is None:
        return _C._current_device()
    if isinstance(dev, int):
        return dev
    if isinstance(dev, str):
        dev = torch.device(dev)
    if isinstance(dev, torch.device):
        if dev.type != "deeplink":
            raise ValueError(f"expected a deeplink device, got {dev}")
        return _C._current_device() if dev.index is None else dev.index
    raise TypeError(f"expected a deeplink device (int, str or torch.device), got {type(dev).__name__}")

"""Where a result must live. A kernel that hands back a host (CPU) tensor where CUDA gives a device
tensor is wrong even when the values are right: the caller's next op mixes devices, and on a real
accelerator the data is not where the program thinks. Copying every output to the CPU for the
comparison would hide that, so the device of each output is checked first and a wrong one is a
`mismatch` naming the output and both devices.

A device output is due when the call involves the device: a tensor argument (moved there) or a
`device=` keyword (the sample's own, redirected there). A CPU output is what CUDA gives too when the
call names the CPU (`x.to("cpu")`) or involves no device at all (a factory such as `arange(2)`
creates on the default device). The reference target runs on the CPU itself and is not checked.
"""
from __future__ import annotations

import torch
from torch.utils._pytree import tree_flatten

from .case_errors import StructureMismatch


def device_output_due(inputs) -> bool:
    """Whether CUDA would answer this call (inputs = (input, args, kwargs) as passed) on the device."""
    kwargs = inputs[-1] if isinstance(inputs, tuple) and isinstance(inputs[-1], dict) else {}
    involves_device = kwargs.get("device") is not None
    for leaf in tree_flatten(inputs)[0]:
        if isinstance(leaf, torch.device) and leaf.type == "cpu":
            return False
        if isinstance(leaf, str) and leaf.split(":", 1)[0] == "cpu":
            return False
        involves_device = involves_device or isinstance(leaf, torch.Tensor)
    return involves_device


def check_devices(tree, device: str, what: str = "output") -> None:
    """Raise StructureMismatch when a tensor of `tree` is not on `device` (see module docstring)."""
    due = torch.device(device).type
    if due == "cpu":
        return
    for i, leaf in enumerate(tree_flatten(tree)[0]):
        if isinstance(leaf, torch.Tensor) and leaf.device.type != due:
            raise StructureMismatch(
                f"{what} {i} is a {leaf.device.type} tensor where a {due} tensor is due "
                f"(shape {tuple(leaf.shape)}, {leaf.dtype}): the kernel returned memory of another "
                "device; return a tensor on the device (values were not compared)")

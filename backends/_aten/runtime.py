"""A runtime made of an ATen device's own allocator, copies and device guard ("cpu" or "cuda"): for
CUDA that is torch's caching allocator and CUDA streams/events, reached without a build-time CUDA
dependency (csrc/shim/runtime_aten.cpp). The shim recognises it by its `aten_device` field."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtenRuntime:
    aten_device: str

"""The C++ half of the process-group backend (csrc/distributed/engine_backend.cpp), compiled on
first use like the shim (deeplink/_build.py) and cached."""
from __future__ import annotations

_module = None


def extension():
    global _module
    if _module is None:
        import torch.distributed  # noqa: F401  c10d's pybind types must exist before ours load
        from .._build import DISTRIBUTED, load
        _module = load(DISTRIBUTED)
    return _module

"""CUDA compatibility mode as a library switch, for notebooks and programs that cannot be started
with `deeplink run`:

    import deeplink.cuda_compat
    deeplink.cuda_compat.enable()          # or enable("cpu") to pick the backend
    model = MyModel().cuda()               # a deeplink tensor; torch.cuda.* answers for deeplink

What it covers and refuses, and its limits, are in docs/migration.md. Limits of the library form:
only code that runs after enable() is affected (objects made before keep their device), a module
that bound a torch name before enable() (`from torch import device`) keeps the original, and
child processes do not inherit it (`deeplink run` passes it on to them).
"""
from __future__ import annotations

from .migration.mode import disable, enable, is_enabled
from .migration.refusals import CudaCompatError

__all__ = ["enable", "disable", "is_enabled", "CudaCompatError"]

"""The C++ half of the process-group backend (csrc/distributed/engine_backend.cpp), compiled on
first use like the shim (deeplink/_build.py) and cached."""
from __future__ import annotations

import atexit

_module = None

# How long exit waits for the threads that complete futures of send/recv works (works.h,
# HelperThreads): they run Python callbacks, which must happen before the interpreter finalizes.
# Only a work still in flight at exit (e.g. an isend nobody received) makes exit wait this long.
EXIT_DRAIN_SECONDS = 10.0


def extension():
    global _module
    if _module is None:
        import torch.distributed  # noqa: F401  c10d's pybind types must exist before ours load
        from .._build import DISTRIBUTED, load
        _module = load(DISTRIBUTED)
        atexit.register(_module.drain_helper_threads, EXIT_DRAIN_SECONDS)
        from .. import _exit
        _exit.add_gate(_module.close_python_gate)  # closed after the drain, by deeplink's own exit hook
    return _module

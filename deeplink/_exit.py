"""A clean end of the process: no thread may be left entering Python while the interpreter finalizes.

Once Python finalizes, a thread that asks for the GIL is ended on the spot (pthread_exit). Two kinds
of thread can ask then, and inside a destructor that aborts the whole process with "terminate
called without an active exception":
- PyTorch's autograd device thread: after backward() returns to the caller, it may still be
  releasing the finished graph task, which always holds a Python object (torch.autograd.backward
  stashes a contextvars copy in it) and may hold more (custom autograd Functions, torch.compile's
  compiled backward, queued final callbacks); its tensors may free memory through a Python runtime;
- threads that run deeplink's own Python from C++ (Python kernels and runtimes called from
  autograd or c10d threads, c10d works completing).

The hook below runs at exit, while Python still serves other threads:
1. it sends one tiny backward through the autograd device thread of every deeplink device index
   that has one; the thread handles its work in order, so when that backward is done, the thread
   has finished releasing everything before it;
2. it closes the gates of deeplink's C++ extensions (csrc/shim/python_gate.h): threads already
   inside finish, any later one is refused Python and leaks what it held or raises instead.

It is registered when deeplink is imported, so it runs after every atexit hook registered later
(hooks run last-registered first): a user's own hook that still uses the device runs before it.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading

import torch

# How long exit waits for threads that are inside Python through the gate. They are usually out
# within microseconds; only a thread stuck in a long Python call makes exit wait this long.
GATE_WAIT_SECONDS = 10.0

# How long exit waits for the autograd device threads to reach the drain's backward (normally
# milliseconds: they only finish releasing the last graph).
DRAIN_WAIT_SECONDS = 10.0

_closers: list = []


def add_gate(close) -> None:
    """Register `close(seconds)` of a C++ extension's gate, to be closed at exit (after the drain)."""
    _closers.append(close)


def autograd_device_threads() -> int:
    """How many of PyTorch's autograd device threads this process runs (0 if it cannot tell).

    They exist once a backward ran anywhere while an accelerator was registered; the drain must not
    start them at exit (starting threads while Python ends is what it avoids)."""
    try:
        names = [open(f"/proc/self/task/{tid}/comm").read() for tid in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    return sum(name.startswith("pt_autograd_") for name in names)


def drain_autograd(device_count: int) -> None:
    """One backward per deeplink device index, each on that index's autograd device thread."""
    if autograd_device_threads() == 0:
        return
    engine = torch.autograd.Variable._execution_engine
    for index in range(device_count):
        leaf = torch.empty((), device=f"deeplink:{index}", requires_grad=True)
        # Backward of a leaf: only its AccumulateGrad node runs, on the device thread, no kernel.
        # The engine is called directly: torch.autograd.backward stashes a Python object (a
        # contextvars copy) in the graph task, and whichever thread drops the task last releases it;
        # this task must hold no Python object, as the device thread may drop it after exit began.
        engine.run_backward((leaf,), (torch.empty((), device=f"deeplink:{index}"),), False, False, (), True, True)


def drain_with_deadline(device_count: int, seconds: float) -> bool:
    """drain_autograd on a helper thread, waiting at most `seconds`: a device thread stuck in user
    work (a backward still blocked in a collective after the main thread failed) must not turn
    exit into a hang. False (with one line on stderr) when it did not finish in time."""
    def drain():
        try:
            drain_autograd(device_count)
        except Exception:  # noqa: BLE001  a broken backend must not turn a clean exit into a traceback
            pass

    thread = threading.Thread(target=drain, name="deeplink-exit-drain", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        print(f"deeplink: the autograd device thread was still busy {seconds:.0f} s into exit (a backward still "
              "running?); exiting without waiting for it", file=sys.stderr)
        return False
    return True


def at_exit(device_count) -> None:
    drain_with_deadline(device_count(), DRAIN_WAIT_SECONDS)
    for close in _closers:
        close(GATE_WAIT_SECONDS)


def install(shim) -> None:
    add_gate(shim._close_python_gate)
    atexit.register(at_exit, shim._device_count)

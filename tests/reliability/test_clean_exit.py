"""A process that used the deeplink device ends cleanly: no thread enters Python while the
interpreter finalizes, so no "terminate called without an active exception" (deeplink/_exit.py,
csrc/shim/python_gate.h).

Each script runs in a fresh interpreter; a SIGABRT at exit shows up as return code -6."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# The program that ends while the device thread releases its graph (its docstring says how).
SLOW_RELEASE = (TESTS / "reliability" / "slow_graph_release.py").read_text()

# After the gate closes (as it does at exit), the main thread, which holds the GIL, still runs
# Python kernels; the autograd device thread is refused with an error that names the op, instead
# of being ended inside PyTorch (the abort).
GATE_CLOSED = """
import torch
import deeplink
from deeplink.kernels import PythonKernel
from plugins.hostbackend import ensure

def mul(self, other):
    out = torch.empty_like(self)
    deeplink.host_view(out).copy_(deeplink.host_view(self) * deeplink.host_view(other))
    return out

deeplink.use(ensure("exit-gate", lambda: {"mul.Tensor": PythonKernel(mul)}).name)
x = torch.ones(3, device="deeplink", requires_grad=True)
loss = (x * x).sum()
deeplink._C._close_python_gate(1.0)
print("main", (x * x).sum().item())
try:
    loss.backward()
    print("backward ran")
except RuntimeError as e:
    print("refused:", str(e).splitlines()[0])
"""


def run(script: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)


def test_exit_while_the_device_thread_releases_a_graph_is_clean():
    for _ in range(3):
        proc = run(SLOW_RELEASE)
        assert proc.returncode == 0, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}"
        assert "RESULT: backward done, grad [2.0, 2.0, 2.0]" in proc.stdout


def test_closed_gate_refuses_other_threads_with_a_clear_error():
    proc = run(GATE_CLOSED)
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert "main 3.0" in proc.stdout
    refused = [line for line in proc.stdout.splitlines() if line.startswith("refused:")]
    assert refused, proc.stdout + proc.stderr[-2000:]
    assert "mul" in refused[0] and "shutting down" in refused[0] and "exit-gate" in refused[0], refused[0]


def test_the_drain_never_starts_autograd_threads():
    # A process that never ran backward has no autograd device threads; exit must not start them.
    proc = run("import torch, deeplink, deeplink._exit as e\n"
               "x = torch.ones(2, device='deeplink') * 2\n"
               "print('threads', e.autograd_device_threads())\n"
               "e.at_exit(deeplink._C._device_count)\n"
               "print('after', e.autograd_device_threads())\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "threads 0" in proc.stdout and "after 0" in proc.stdout, proc.stdout


def test_a_busy_device_thread_does_not_hang_exit():
    # A backward blocked on the device thread (here: a kernel that waits on an event nobody sets)
    # while the main thread gives up: exit waits DRAIN_WAIT_SECONDS at most, then says so.
    proc = run("""
import threading, torch, deeplink, deeplink._exit as e
e.DRAIN_WAIT_SECONDS = 1.0
never = threading.Event()

class Blocks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        never.wait()
        return g

x = torch.ones(3, device="deeplink", requires_grad=True)
y = Blocks.apply(x).sum()
threading.Thread(target=y.backward, daemon=True).start()
import time; time.sleep(1.0)
print("main done")
""")
    assert "main done" in proc.stdout, proc.stderr[-3000:]
    assert "still busy" in proc.stderr, proc.stderr[-3000:]

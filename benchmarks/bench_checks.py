"""Cost of deeplink's argument checks before non-ATen kernels (docs/reliability.md), in one run.

For `x + y` on a backend whose add is a Python kernel and on one whose add is a C kernel (the
scaffold's), and for an in-place `x.add_(y)` on the Python one, the table gives the per-call time
with the meta argument checks on (the default) and off (deeplink.set_argument_checks(False)), and
the ratio. The memory-overlap check is always on; it is part of both columns. Rounds alternate
between the two settings; the median round is reported.

    python benchmarks/bench_checks.py [--rounds 9] [--number 1000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import torch

import deeplink
from deeplink.kernels import PythonKernel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from plugins.hostbackend import TableBackend  # noqa: E402
from bench_plugins import generated_c_add, python_add  # noqa: E402  (benchmarks/ is sys.path[0])


def python_add_(self, other, *, alpha=1):
    deeplink.host_view(self).add_(deeplink.host_view(other), alpha=alpha)
    return self


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--number", type=int, default=1000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        deeplink.register_backend(TableBackend("checks_python", {"add.Tensor": PythonKernel(python_add),
                                                           "add_.Tensor": PythonKernel(python_add_)}))
        deeplink.register_backend(TableBackend("checks_c", {"add.Tensor": generated_c_add(Path(tmp))}))
        cases = {}
        for backend in ("checks_python", "checks_c"):
            deeplink.use(backend)
            x, y = torch.rand(16).to("deeplink"), torch.rand(16).to("deeplink")
            cases[(backend, "x + y")] = timeit.Timer("x + y", globals={"x": x, "y": y})
            if backend == "checks_python":
                cases[(backend, "x.add_(y)")] = timeit.Timer("x.add_(y)", globals={"x": x, "y": y})
        samples = {(k, on): [] for k in cases for on in (True, False)}
        for _ in range(args.rounds):
            for (backend, what), timer in cases.items():
                deeplink.use(backend)
                for on in (True, False):
                    deeplink.set_argument_checks(on)
                    samples[((backend, what), on)].append(timer.timeit(args.number) / args.number * 1e6)
        deeplink.set_argument_checks(True)
        deeplink.use("cpu")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"{args.rounds} alternating rounds x {args.number} calls; float32, 16 elements; median us/call")
    print(f"  {'kernel':<16} {'call':<10} {'checks on':>10} {'checks off':>11} {'ratio':>7}")
    for (backend, what) in cases:
        on = statistics.median(samples[((backend, what), True)])
        off = statistics.median(samples[((backend, what), False)])
        kind = {"checks_python": "PythonKernel", "checks_c": "CKernel"}[backend]
        print(f"  {kind:<16} {what:<10} {on:>10.1f} {off:>11.1f} {on / off:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-call cost of one `x + y` on the deeplink device, by kind of kernel:

    cpu backend      Passthrough: ATen's CPU kernel on zero-copy aliases, all in C++
    PythonKernel     a Python function on host views (deeplink.host_view + torch.add(out=))
    CKernel          the C kernel that `deeplink new-backend` generates, through deeplink.ckernel

The Python and C kernels run on the same Python (libc) runtime; outputs come from deeplink's
caching allocator in every case. Configurations are measured interleaved, round after round, and
the best round is reported (the least disturbed by other load on the machine).

    python tests/plugins/overhead.py [--sizes 16,65536] [--rounds 7] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import timeit
from pathlib import Path

import torch

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.ckernel import CKernel, build_library
from deeplink.kernels import PythonKernel
from deeplink.runtime import HostRuntime



def python_add(self, other, *, alpha=1):
    out = torch.empty(torch.broadcast_shapes(self.shape, other.shape), dtype=torch.result_type(self, other),
                      device=self.device)
    torch.add(deeplink.host_view(self), deeplink.host_view(other), alpha=alpha, out=deeplink.host_view(out))
    return out


class _Bench(Backend):
    priority = -1000

    def __init__(self, name, kernel):
        self.name, self._kernel = name, kernel

    def probe(self):
        return Availability.yes()

    def runtime(self):
        return HostRuntime()

    def kernels(self):
        return {"add.Tensor": self._kernel}


def generated_c_add(workdir: Path):
    """The add kernel of a freshly generated plugin, compiled."""
    from deeplink.scaffold import generate
    generate("ovh", workdir / "plugin")
    lib = build_library(workdir / "plugin" / "src" / "ovh" / "ops" / "kernels.c", workdir / "libovh.so")
    return CKernel(lib, "ovh_add", "add.Tensor", "out, self, other, double alpha")


def measure(sizes, rounds, number):
    with tempfile.TemporaryDirectory() as tmp:
        ckernel = generated_c_add(Path(tmp))
        pykernel = PythonKernel(python_add, None, "python")
        for name, k in (("bench_python", pykernel), ("bench_c", ckernel)):
            try:
                deeplink._registry.get(name)
            except ValueError:
                deeplink.register_backend(_Bench(name, k))
        configs = [("cpu backend (Passthrough)", "cpu", None), ("PythonKernel", "bench_python", pykernel),
                   ("CKernel", "bench_c", ckernel)]
        results = {}
        for n in sizes:
            timers = {}
            for label, backend, kernel in configs:
                deeplink.use(backend)
                x = torch.rand(n).to("deeplink")
                y = torch.rand(n).to("deeplink")
                assert torch.allclose((x + y).cpu(), x.cpu() + y.cpu())
                timers[(label, "x + y")] = timeit.Timer("x + y", globals={"x": x, "y": y})
                if kernel is not None:  # the kernel alone, without the dispatcher around it
                    timers[(label, "kernel fn")] = timeit.Timer("f(x, y, alpha=1)", globals={"f": kernel.fn, "x": x, "y": y})
            deeplink.use("cpu")
            xc, yc = torch.rand(n), torch.rand(n)
            timers[("plain CPU tensors", "x + y")] = timeit.Timer("x + y", globals={"x": xc, "y": yc})
            samples = {k: [] for k in timers}
            for _ in range(rounds):
                for key, timer in timers.items():
                    backend = {"cpu backend (Passthrough)": "cpu", "PythonKernel": "bench_python",
                               "CKernel": "bench_c"}.get(key[0], "cpu")
                    deeplink.use(backend)
                    samples[key].append(timer.timeit(number) / number * 1e6)
            deeplink.use("cpu")
            results[n] = {f"{k[0]} | {k[1]}": {"best_us": min(v), "median_us": statistics.median(v)}
                          for k, v in samples.items()}
        return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="16,65536")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--number", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.rounds, args.number)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"{args.rounds} interleaved rounds x {args.number} calls")
    for n, rows in results.items():
        print(f"\nfloat32, {n} elements      best us/call   median us/call")
        for name, r in rows.items():
            print(f"  {name:<38} {r['best_us']:>8.2f}      {r['median_us']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

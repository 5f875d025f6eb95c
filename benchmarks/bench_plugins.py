"""Plugin kernels against the pass-through call they would replace: one `x + y` (16 float32
elements) on the deeplink device, by kind of kernel, on the same Python (libc) host runtime:

    Passthrough      the cpu backend: ATen's CPU kernel on zero-copy aliases, all in C++
    CKernel          the C add kernel that `deeplink new-backend` generates; the router calls it
                     from C++ (csrc/shim/ckernel_route.cpp), no Python frame
    PythonKernel     a Python function on host views (deeplink.host_view + torch.add(out=))

Outputs come from deeplink's caching allocator in every case. Targets (issue 14): CKernel <= 1.5 us
above the pass-through call; the PythonKernel figure is reported.

    python benchmarks/bench_plugins.py [--rounds 15]     (one section of `make bench`)
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.ckernel import CKernel, build_library
from deeplink.kernels import PythonKernel
from deeplink.runtime import HostRuntime
from timing import Row, alternating

C_KERNEL_LIMIT_US = 1.5


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


def rows(rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        kernels = {"bench_c": generated_c_add(Path(tmp)), "bench_python": PythonKernel(python_add, None, "python")}
        for name, k in kernels.items():
            try:
                deeplink._registry.get(name)
            except ValueError:
                deeplink.register_backend(_Bench(name, k))
        cases, setup = {}, {}
        for backend in ("cpu", "bench_c", "bench_python"):
            deeplink.use(backend)
            x, y = torch.rand(16).to("deeplink"), torch.rand(16).to("deeplink")
            assert torch.allclose((x + y).cpu(), x.cpu() + y.cpu())
            cases[backend] = lambda x=x, y=y: x + y
            setup[backend] = lambda backend=backend: deeplink.use(backend)
        med = alternating(cases, rounds, 2000, setup=setup)
        deeplink.use("cpu")
    return [Row("plugins", "C kernel add (16)", "Passthrough add", med["cpu"], med["bench_c"], "us",
                None, C_KERNEL_LIMIT_US),
            Row("plugins", "Python kernel add (16)", "Passthrough add", med["cpu"], med["bench_python"], "us",
                None)]


def main() -> None:
    from bench import print_table
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print_table(rows(args.rounds), args.rounds)


if __name__ == "__main__":
    main()

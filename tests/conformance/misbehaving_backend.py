"""A deeplink backend named "misbehaving" for the runner's own checks (tests/conformance/
test_runner_safety.py): the CPU reference backend, except that
- `neg` returns its (correct) values in a CPU tensor where a deeplink tensor is due;
- `exp` is correct but leaks LEAK_MB MiB of host memory per call (DEEPLINK_TEST_LEAK_MB, default 64).
Workers import it through `--plugin tests/conformance/misbehaving_backend.py`."""
from __future__ import annotations

import os
from collections import ChainMap

import torch

import deeplink
from deeplink.backends.cpu import CpuBackend
from deeplink.kernels import PythonKernel

LEAK_MB = int(os.environ.get("DEEPLINK_TEST_LEAK_MB", "64"))
_leaked: list[bytes] = []


def _host(x):
    return deeplink.host_view(x) if isinstance(x, torch.Tensor) and x.device.type == "deeplink" else x


def neg_on_the_host(x):
    return torch.neg(_host(x))                      # right values, wrong device


def leaky_exp(x):
    _leaked.append(b"\x01" * (LEAK_MB << 20))      # written, so the pages are resident
    host = torch.exp(_host(x))
    out = torch.empty(host.shape, dtype=host.dtype, device="deeplink")
    deeplink.host_view(out).copy_(host)
    return out


class MisbehavingBackend(CpuBackend):
    name = "misbehaving"
    description = "CPU backend with a wrong-device neg and a leaking exp (runner tests only)"
    priority = -100
    verified_on = "test fixture"

    def kernels(self):
        return ChainMap({"neg": PythonKernel(neg_on_the_host, impl="test: CPU result"),
                         "exp": PythonKernel(leaky_exp, impl="test: leaks")}, super().kernels())


if not any(b["name"] == "misbehaving" for b in deeplink.list_backends()):
    deeplink.register_backend(MisbehavingBackend())

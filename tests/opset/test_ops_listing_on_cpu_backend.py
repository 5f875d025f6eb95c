"""`deeplink ops` against the real dispatcher (deeplink.route_of) on the in-tree CPU backend."""
import argparse
import functools
import io
import json

import pytest

from deeplink.opset.listing import STATUSES, add_ops_arguments, run_ops_command

deeplink = pytest.importorskip("deeplink")


@pytest.fixture(scope="module")
def cpu_route():
    if not hasattr(deeplink, "route_of"):
        pytest.skip("deeplink.route_of is not available in this checkout")
    if not any(b["name"] == "cpu" and b["available"] for b in deeplink.list_backends()):
        pytest.skip("the cpu backend is not available")
    return functools.partial(deeplink.route_of, backend="cpu")


def listing(cpu_route, opset, tier):
    args = add_ops_arguments(argparse.ArgumentParser()).parse_args(
        ["--tier", tier, "--backend", "cpu", "--json"])
    out = io.StringIO()
    assert run_ops_command(args, cpu_route, out=out, opset=opset) == 0
    return json.loads(out.getvalue())


def test_llm_tier_is_all_native_on_cpu(cpu_route, opset):
    doc = listing(cpu_route, opset, "llm")
    not_native = {o["op"]: o["status"]["cpu"] for o in doc["ops"] if o["status"]["cpu"] != "native"}
    assert not_native == {}
    assert doc["totals"]["cpu"]["native"] == doc["count"] == 60


def test_every_status_is_valid_on_the_cuda_tier(cpu_route, opset):
    doc = listing(cpu_route, opset, "cuda")
    assert sum(doc["totals"]["cpu"].values()) == doc["count"] == len(opset.tiers["cuda"])
    assert all(o["status"]["cpu"] in STATUSES for o in doc["ops"])


def test_routes_do_not_depend_on_cuda_kernels_being_registered(monkeypatch):
    """On a CUDA build `_foreach_add.List` also has a CUDA kernel; the cpu backend still runs its
    composite there, so `deeplink info` must say native, as it does on a CPU-only build."""
    import torch

    import deeplink
    real = torch._C._dispatch_has_kernel_for_dispatch_key
    before = deeplink.route_of("_foreach_add.List", "cpu")

    def with_cuda(name, key):
        return True if (key == "CUDA" and name == "aten::_foreach_add.List") else real(name, key)
    monkeypatch.setattr(torch._C, "_dispatch_has_kernel_for_dispatch_key", with_cuda)
    assert before == "native"
    assert deeplink.route_of("_foreach_add.List", "cpu") == "native"

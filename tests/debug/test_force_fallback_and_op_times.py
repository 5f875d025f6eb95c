"""DEEPLINK_FORCE_FALLBACK / deeplink.set_force_fallback send chosen ops to the CPU fallback (to
bisect a divergence); OpTimes tables time per op and route."""
import os
import subprocess
import sys

import pytest
import torch

import deeplink
import planted_debug_backend  # noqa: F401
from deeplink.debug import Autocompare, OpTimes


@pytest.fixture
def forced():
    def force(regex):
        deeplink.set_force_fallback(regex)
    yield force
    deeplink.set_force_fallback(None)
    deeplink.use("cpu")


def test_forced_ops_take_the_fallback_route(forced):
    deeplink.use("cpu")
    forced("^gelu$")
    assert deeplink.route_of("gelu") == "fallback" and deeplink.route_of("gelu_backward") == "native"
    deeplink.reset_op_stats()
    torch.nn.functional.gelu(torch.randn(4, device="deeplink"))
    assert deeplink.fallback_stats() == {"gelu": 1}


def test_forcing_the_planted_op_removes_the_divergence(forced):
    deeplink.use("planted-gelu")
    x = torch.randn(64).to("deeplink") * 2
    with Autocompare() as before:
        torch.nn.functional.gelu(x, approximate="tanh")
    forced("^gelu$")
    with Autocompare() as after:
        torch.nn.functional.gelu(x, approximate="tanh")
    assert before.report()["first_divergence"]["op"] == "gelu"
    assert after.report()["first_divergence"] is None


def test_forced_fallback_even_under_fallback_error(forced):
    deeplink.use("cpu")
    mode = deeplink.fallback_mode()
    deeplink.set_fallback_mode("error")
    try:
        forced("^gelu$")
        torch.nn.functional.gelu(torch.randn(4, device="deeplink"))
    finally:
        deeplink.set_fallback_mode(mode)


def test_environment_variable():
    code = ("import torch, deeplink; deeplink.use('cpu'); print(deeplink.route_of('mm'), deeplink.route_of('addmm'))")
    env = {**os.environ, "DEEPLINK_FORCE_FALLBACK": "^mm$"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.stdout.split() == ["fallback", "native"], proc.stderr[-2000:]


def test_op_times_split_by_route(forced):
    deeplink.use("cpu")
    forced("^gelu$")
    x = torch.randn(32, 32).to("deeplink")
    with OpTimes() as times:
        for _ in range(3):
            torch.nn.functional.gelu(x @ x)
    rows = {(r["op"], r["route"]): r for r in times.to_json()["ops"]}
    assert rows[("mm", "native")]["calls"] == 3 and rows[("gelu", "fallback")]["calls"] == 3
    assert all(r["total_ms"] > 0 and r["mean_us"] > 0 for r in rows.values())
    table = times.table()
    assert "gelu" in table and "fallback" in table and "time by route:" in table

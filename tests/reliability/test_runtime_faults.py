"""A vendor runtime's results are checked, never trusted: NULL and misaligned pointers from a
malloc that reports success, and errors from malloc, free, memcpy and synchronize become Python
errors naming the backend and the call; the caching allocator never holds a block twice; a
failed free is retried, never repeated after it worked. fuzz_runtime.py drives a Python and a C
runtime that fail at random through 10,000 steps; the small cases pin each rule down."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deeplink
from deeplink.runtime import HostRuntime
from plugins.hostbackend import TableBackend

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("kind", ["python", "c"])
def test_fuzz_10000_steps(kind):
    env = dict(os.environ)
    env.pop("DEEPLINK_BACKEND", None)
    proc = subprocess.run([sys.executable, str(HERE / "fuzz_runtime.py"), kind, "10000", "7", "0.05"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["n_failures"] == 0, r["failures"]
    assert r["steps"] == 10000 and r["errors"] > 100 and r["ok"] > 5000 and r["value_checks"] > 200, r
    assert r["live_blocks"] == 0, f"the runtime still holds {r['live_blocks']} blocks (a leak)"
    assert r["allocated"] == 0 and r["reserved"] == 0 and r["mallocs"] == r["frees"], r


class ScriptedRuntime(HostRuntime):
    """Host memory whose malloc and free misbehave as a test says."""

    def __init__(self):
        super().__init__()
        self.malloc_result = None   # None: real memory; else what malloc returns (after allocating)
        self.fail_free_calls: set = set()
        self.frees, self.freed, self.live = 0, [], set()

    def malloc(self, device, nbytes):
        p = super().malloc(device, nbytes + 32) + 16
        self.live.add(p)
        if self.malloc_result is None:
            return p
        return self.malloc_result(p)

    def free(self, device, ptr):
        self.frees += 1
        if self.frees in self.fail_free_calls:
            raise OSError(f"vendor free failed (call {self.frees})")
        base = ptr - 1 if ptr % 16 else ptr
        assert base in self.live, f"double free of {ptr:#x}"
        self.live.discard(base)
        self.freed.append(ptr)
        super().free(device, base - 16)


@pytest.fixture
def scripted():
    previous = deeplink.current_backend()
    rt = ScriptedRuntime()
    name = f"scripted-{id(rt)}"
    deeplink.register_backend(TableBackend(name, {}, rt))
    deeplink.use(name)
    torch.deeplink.empty_cache()
    yield name, rt
    rt.malloc_result, rt.fail_free_calls = None, set()
    gc.collect()
    torch.deeplink.empty_cache()
    deeplink.use(previous)


def test_malloc_null_is_an_error(scripted):
    name, rt = scripted
    rt.malloc_result = lambda p: 0
    with pytest.raises(RuntimeError, match=f"backend '{name}': runtime malloc of .* returned NULL"):
        torch.empty(100, device="deeplink")


def test_malloc_misaligned_is_an_error_and_given_back(scripted):
    name, rt = scripted
    rt.malloc_result = lambda p: p + 1
    with pytest.raises(RuntimeError, match=f"backend '{name}': .*not 16-byte aligned.*given back"):
        torch.empty(100, device="deeplink")
    assert len(rt.freed) == 1 and rt.freed[0] % 16 == 1


def test_malloc_returning_live_memory_is_an_error(scripted):
    name, rt = scripted
    a = torch.empty(100, device="deeplink")
    rt.malloc_result = lambda p: a.data_ptr()
    with pytest.raises(RuntimeError, match="returned memory that is still in use"):
        torch.empty(5000, device="deeplink")


def test_free_failure_is_retried_not_repeated(scripted):
    name, rt = scripted
    blocks = [torch.empty(n, device="deeplink") for n in (100, 1000, 10000)]
    before = torch.deeplink.memory_stats()
    del blocks
    rt.fail_free_calls = {2}  # the second of the three frees fails
    with pytest.raises(RuntimeError, match=f"backend '{name}': runtime free failed for 1 cached block"):
        torch.deeplink.empty_cache()
    after_first = torch.deeplink.memory_stats()
    assert after_first["num_device_free"] - before["num_device_free"] == 2
    assert after_first["reserved_bytes.all.current"] > 0  # the unfreed block is still the runtime's
    torch.deeplink.empty_cache()  # retried once, and only that block: ScriptedRuntime asserts no double free
    after = torch.deeplink.memory_stats()
    assert after["num_device_free"] - before["num_device_free"] == 3
    assert len(rt.freed) == len(set(rt.freed)) == 3
    torch.deeplink.empty_cache()
    assert torch.deeplink.memory_stats()["num_device_free"] == after["num_device_free"]


def test_memory_stats_of_device_64_and_above_are_their_own():
    class Many(HostRuntime):  # 80 devices, all in host memory
        def device_count(self):
            return 80

        def malloc(self, device, nbytes):
            return super().malloc(0, nbytes)

        def free(self, device, ptr):
            super().free(0, ptr)

    previous = deeplink.current_backend()
    deeplink.register_backend(TableBackend("many-devices", {}, Many()))
    deeplink.use("many-devices")
    try:
        base = {d: torch.deeplink.memory_allocated(d) for d in (0, 15, 64, 79)}
        x = torch.empty(1024, device="deeplink:64")
        y = torch.empty(256, device="deeplink:79")
        grown = {d: torch.deeplink.memory_allocated(d) - base[d] for d in base}
        assert grown == {0: 0, 15: 0, 64: 4096, 79: 1024}, grown  # 64 & 63 == 0, 79 & 63 == 15
        del x, y
    finally:
        deeplink.use(previous)

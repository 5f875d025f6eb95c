"""Drive deeplink's allocator and copies over a vendor runtime that fails at random points.

    python tests/reliability/fuzz_runtime.py python|c [STEPS] [SEED] [FAIL_RATE]

The runtime (a Python one below, or the C table of faulty_runtime.c) fails calls at random:
errors from malloc, free, memcpy and synchronize, NULL and misaligned pointers from a malloc that
reports success. STEPS random steps allocate, copy host->device, device->host and
device->device, free, empty the cache and synchronize. Every step must either work (and every
value read back must be the one written) or raise a RuntimeError naming the backend and the
runtime call. At the end, with faults off, everything is freed: the runtime must hold no block,
deeplink's statistics must read zero, and mallocs must equal frees. Prints one JSON line.
"""
import ctypes
import gc
import json
import random
import sys
from pathlib import Path

import torch

import deeplink
from deeplink.runtime import CRuntime, HostRuntime

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from plugins.hostbackend import TableBackend  # noqa: E402
CALLS = ("malloc", "free", "memcpy", "synchronize", "out of memory")


class FaultyPythonRuntime(HostRuntime):
    """Host memory, with faults at `rate`; remembers what it handed out (so it can count leaks
    and refuse a pointer it does not know instead of crashing)."""

    def __init__(self, rate: float, seed: int):
        super().__init__()
        self.rate, self.rng, self.live = rate, random.Random(seed), {}

    def _fault(self, call: str) -> bool:
        return self.rate > 0 and self.rng.random() < self.rate

    def malloc(self, device, nbytes):
        if self._fault("malloc"):
            raise MemoryError("injected failure in malloc")
        base = super().malloc(device, nbytes + 32)
        if self._fault("null"):
            super().free(device, base)
            return 0
        user = base + 16 + (1 if self._fault("misaligned") else 0)
        self.live[user] = base
        return user

    def free(self, device, ptr):
        if ptr not in self.live:
            raise RuntimeError(f"free of {ptr:#x}, which this runtime did not allocate (or freed already)")
        if self._fault("free"):
            raise OSError("injected failure in free")
        super().free(device, self.live.pop(ptr))

    def memcpy(self, dst, src, nbytes, kind, device, stream):
        if self._fault("memcpy"):
            raise OSError("injected failure in memcpy")
        super().memcpy(dst, src, nbytes, kind, device, stream)

    def synchronize(self, device):
        if self._fault("synchronize"):
            raise OSError("injected failure in synchronize")

    def live_blocks(self) -> int:
        return len(self.live)

    def quiet(self) -> None:
        self.rate = 0


class FaultyCRuntime:
    """The C table of faulty_runtime.c (compiled on first use)."""

    def __init__(self, rate: float, seed: int, build_dir: Path):
        from deeplink.ckernel import build_library
        lib = ctypes.CDLL(str(build_library(HERE / "faulty_runtime.c", build_dir / "libfaulty_runtime.so", ["-lpthread"])))
        lib.faulty_runtime_table.restype = ctypes.c_void_p
        lib.faulty_runtime_configure.argtypes = [ctypes.c_double, ctypes.c_ulonglong, ctypes.c_int, ctypes.c_int]
        lib.faulty_runtime_live_blocks.restype = ctypes.c_long
        lib.faulty_runtime_configure(rate, seed, 2, 2)
        self.lib = lib
        self.runtime = CRuntime(lib.faulty_runtime_table(), host_accessible=True, keepalive=lib)

    def live_blocks(self) -> int:
        return self.lib.faulty_runtime_live_blocks()

    def quiet(self) -> None:
        self.lib.faulty_runtime_configure(0.0, 0, 0, 0)


def fuzz(kind: str, steps: int, seed: int, rate: float, build_dir: Path) -> dict:
    faulty = FaultyPythonRuntime(rate, seed) if kind == "python" else FaultyCRuntime(rate, seed, build_dir)
    name = f"fuzz-{kind}"
    deeplink.register_backend(TableBackend(name, {}, faulty if kind == "python" else faulty.runtime))
    deeplink.use(name)
    rng = random.Random(seed)
    tensors: list[list] = []   # [deeplink tensor, its expected values or None when unknown]
    counts = {"steps": 0, "ok": 0, "errors": 0, "value_checks": 0}
    failures: list[str] = []

    def pick():
        return tensors[rng.randrange(len(tensors))]

    def step(kind: str) -> None:  # (a function, so that no tensor outlives it in a local variable)
        if kind == "alloc":
            tensors.append([torch.empty(rng.choice([1, 7, 64, 300, 4096, 70000]), device="deeplink"), None])
        elif kind == "h2d" and tensors:
            entry = pick()
            values = torch.randn(entry[0].numel())
            entry[1] = None  # unknown until the copy has succeeded
            entry[0].copy_(values)
            entry[1] = values
        elif kind == "d2h" and tensors:
            entry = pick()
            got = entry[0].cpu()
            if entry[1] is not None:
                counts["value_checks"] += 1
                if not torch.equal(got, entry[1]):
                    failures.append("a value read back differs from the value written")
        elif kind == "d2d" and tensors:
            src = pick()
            dst = [torch.empty_like(src[0]), None]
            tensors.append(dst)
            dst[0].copy_(src[0])
            dst[1] = src[1]
        elif kind == "free" and tensors:
            tensors.pop(rng.randrange(len(tensors)))
        elif kind == "empty_cache":
            torch.deeplink.empty_cache()
        elif kind == "sync":
            torch.deeplink.synchronize()

    for _ in range(steps):
        counts["steps"] += 1
        kind = rng.choice(["alloc", "alloc", "h2d", "d2h", "d2d", "free", "empty_cache", "sync"])
        try:
            step(kind)
            counts["ok"] += 1
        except RuntimeError as e:
            counts["errors"] += 1
            text = str(e)
            if f"'{name}'" not in text or not any(c in text for c in CALLS):
                failures.append(f"{kind}: error without backend or call: {text[:300]}")
            if "did not allocate" in text or "still in use" in text:
                failures.append(f"{kind}: deeplink misused the runtime: {text[:300]}")
        if len(tensors) > 200:
            tensors.pop(0)
    faulty.quiet()
    tensors.clear()
    gc.collect()
    torch.deeplink.empty_cache()
    stats = torch.deeplink.memory_stats()
    return dict(counts, failures=failures[:20], n_failures=len(failures), live_blocks=faulty.live_blocks(),
                allocated=torch.deeplink.memory_allocated(), reserved=torch.deeplink.memory_reserved(),
                mallocs=stats["num_device_alloc"], frees=stats["num_device_free"])


if __name__ == "__main__":
    import tempfile
    kind = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    deeplink.set_fallback_mode("silent")
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(fuzz(kind, steps, seed, rate, Path(tmp))))

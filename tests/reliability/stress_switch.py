"""Threads running ops while other threads switch the active backend between a Passthrough
backend (cpu) and a Python-kernel backend, change the fallback mode and the argument checks, and
empty the allocator cache. Prints one JSON line of counts; test_concurrency.py runs it in a
subprocess with a timeout, so a crash or a deadlock fails the test cleanly.

    python tests/reliability/stress_switch.py [SECONDS] [WORKERS]

Every op result is checked. An op may also fail with deeplink's "belongs to backend" error (its
inputs were made under the backend that was active a moment before): that is the documented
behaviour, counted apart. Anything else -- a wrong value, another exception -- is a failure.
"""
import json
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import deeplink
from deeplink.kernels import PythonKernel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from plugins.hostbackend import TableBackend  # noqa: E402

MIXED_BACKENDS = "Tensors do not move between backends implicitly"


def py_add(self, other, *, alpha=1):
    result = deeplink.host_view(self).numpy() + alpha * deeplink.host_view(other).numpy()
    return torch.from_numpy(np.ascontiguousarray(result)).to("deeplink")


def py_mul_(self, other):
    deeplink.host_view(self).mul_(deeplink.host_view(other))
    return self


def main(seconds: float, workers: int) -> dict:
    warnings.simplefilter("ignore")
    deeplink.register_backend(TableBackend("stress-py", {"add.Tensor": PythonKernel(py_add),
                                                         "mul_.Tensor": PythonKernel(py_mul_)}))
    stop = time.time() + seconds
    counts = {"ops": 0, "switches": 0, "mixed_backend_errors": 0}
    failures: list[str] = []
    lock = threading.Lock()

    def work(seed: int):
        base = torch.arange(64, dtype=torch.float32) + seed
        while time.time() < stop:
            try:
                a = base.to("deeplink")
                s = (a + a).cpu()
                b = a.clone()
                b.mul_(a)
                m = torch.mm(a.view(8, 8), a.view(8, 8)).cpu()
                ok = torch.equal(s, base * 2) and torch.equal(b.cpu(), base * base) and \
                    torch.allclose(m, base.view(8, 8) @ base.view(8, 8))
                with lock:
                    counts["ops"] += 5
                    if not ok:
                        failures.append(f"wrong result in worker {seed}")
            except RuntimeError as e:
                with lock:
                    if MIXED_BACKENDS in str(e):
                        counts["mixed_backend_errors"] += 1
                    else:
                        failures.append(f"{type(e).__name__}: {str(e)[:300]}")

    def switch(k: int):
        i = 0
        while time.time() < stop:
            try:
                deeplink.use("stress-py" if (i + k) % 2 else "cpu")
                deeplink.set_fallback_mode("silent" if i % 3 else "warn")
                deeplink.set_argument_checks(i % 5 != 0)
                torch.deeplink.empty_cache()
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(f"switcher: {type(e).__name__}: {e}")
            i += 1
            with lock:
                counts["switches"] += 1

    threads = [threading.Thread(target=work, args=(s,)) for s in range(workers)]
    threads += [threading.Thread(target=switch, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(counts, failures=failures[:20], n_failures=len(failures))


if __name__ == "__main__":
    result = main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0, int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    print(json.dumps(result))

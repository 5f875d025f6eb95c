"""PyTorch's OpInfo error inputs (every OpInfo with `error_inputs`, ~690 samples) on each in-tree
backend that runs on a CPU-only machine: every sample must raise the exception class the CPU
raises for it (error_inputs.py says how the CPU twin of a sample is made). No crash, no silent
success. Each backend's sweep runs in its own interpreter (a crash fails the test, not the run).

By hand: `python tests/reliability/error_inputs.py cpu` (or onnxruntime; ascend with
`--plugin ascend_emulator.plugin:register`) lists every sample that differs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BACKENDS = {"cpu": [], "onnxruntime": [], "ascend": ["--plugin", "ascend_emulator.plugin:register"]}


def _sweep(backend: str) -> list[dict]:
    env = dict(os.environ)
    env.pop("DEEPLINK_BACKEND", None)
    proc = subprocess.run([sys.executable, str(HERE / "error_inputs.py"), backend, "--json", *BACKENDS[backend]],
                          capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, f"the {backend} sweep ended with exit {proc.returncode}:\n{proc.stderr[-4000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_error_inputs_raise_like_cpu(backend):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    results = _sweep(backend)
    assert len(results) > 600, f"only {len(results)} samples: the sweep did not run through"
    bad = [r for r in results if r["status"] not in ("match", "accepted")]
    assert not bad, f"{len(bad)} of {len(results)} error inputs differ from the CPU on backend {backend}:\n" + "\n".join(
        f"  {r['status']}: {r['op']}[{r['sample']}] cpu {r.get('cpu') or 'no error'}, deeplink "
        f"{r.get('deeplink') or 'no error'} {r.get('detail', '')}" for r in bad)

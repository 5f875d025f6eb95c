"""Capture saves op calls (deduplicated, size-capped) with their CPU reference results;
`deeplink conformance run --cases DIR` replays them on any backend."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deeplink
import planted_debug_backend
from deeplink.conformance.replay import load_cases, replay
from deeplink.debug import Capture


def _train_tiny():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(32, 1))
    m = m.to("deeplink")
    x = torch.randn(16, 8).to("deeplink")
    for _ in range(3):
        m(x).sum().backward()


@pytest.fixture
def captured(tmp_path):
    deeplink.use("planted-gelu")
    try:
        with Capture("^(gelu|addmm)$", tmp_path / "cases") as cap:
            _train_tiny()
    finally:
        deeplink.use("cpu")
    return tmp_path / "cases", cap


def test_capture_deduplicates_by_op_dtypes_and_shapes(captured):
    folder, cap = captured
    index = json.loads((folder / "cases.json").read_text())
    ops = sorted(c["op"] for c in index["cases"])
    assert ops == ["addmm", "addmm", "gelu"]                       # two addmm shapes, one gelu
    assert sorted(index["calls_per_case"].values()) == [3, 3, 3]    # three steps each
    gelu = next(c for c in index["cases"] if c["op"] == "gelu")
    assert gelu["status"] == "mismatch" and gelu["module"] == "1" and gelu["backend"] == "planted-gelu"
    assert len(load_cases(folder)) == 3


def test_replay_passes_on_cpu_and_fails_on_the_planted_backend(captured):
    folder, _ = captured
    on_cpu = replay(folder, "cpu")
    assert on_cpu["summary"]["cases"]["by_status"] == {"pass": 3}
    planted = replay(folder, "planted-gelu")
    deeplink.use("cpu")
    by_op = {r["op"]: r["status"] for r in planted["cases"]}
    assert by_op == {"addmm": "pass", "gelu": "mismatch"}


def test_replay_reports_fallback(captured):
    folder, _ = captured
    deeplink.set_force_fallback("^gelu$")
    try:
        rows = replay(folder, "planted-gelu")["cases"]
    finally:
        deeplink.set_force_fallback(None)
        deeplink.use("cpu")
    assert {r["op"]: r["status"] for r in rows}["gelu"] == "fallback"


def test_size_cap(tmp_path):
    deeplink.use("cpu")
    with Capture("^mm$", tmp_path, max_case_mb=0.001) as cap:
        a = torch.randn(64, 64).to("deeplink")
        a @ a
    assert cap.cases == {} and cap.not_saved["too large"] == 1


def test_conformance_cli_replays_cases(captured, tmp_path):
    folder, _ = captured
    plugin = str(Path(planted_debug_backend.__file__))
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "deeplink", "conformance", "run", "--cases", str(folder),
                           "--backend", "planted-gelu", "--plugin", plugin, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "mismatch 1, pass 2" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["backend"] == "planted-gelu" and report["summary"]["cases"]["total"] == 3
    assert "| gelu |" in (out / "report.md").read_text().replace("gelu-", "")
    empty = subprocess.run([sys.executable, "-m", "deeplink", "conformance", "run", "--cases", str(tmp_path / "none"),
                            "--backend", "cpu"], capture_output=True, text=True, timeout=300)
    assert empty.returncode == 2

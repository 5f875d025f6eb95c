"""`deeplink build` and `deeplink doctor` (the no-compiler case is in test_build_cache.py)."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import deeplink
from deeplink import doctor

CLI = str(Path(sys.executable).with_name("deeplink"))


def _cli(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **(env or {})))


def test_build_when_built_says_so():
    first = _cli("build")  # builds the distributed extension if no test has used it yet
    assert first.returncode == 0, first.stderr
    proc = _cli("build")
    assert proc.returncode == 0, proc.stderr
    for ext in (deeplink._build.SHIM, deeplink._build.DISTRIBUTED):
        [line] = [ln for ln in proc.stdout.splitlines() if deeplink._build.build_dir(ext).name in ln]
        assert "already built" in line


def test_doctor_lists_every_item_one_line_each():
    proc = _cli("doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for item in ("torch", "C++ compiler", "ninja", "Python headers", "torch headers", "shim cache writable",
                 "cache folder writable", "shim", "backend cpu", "backend onnxruntime", "backend cuda",
                 "onnxruntime", "onnx", "transformers", "expecttest", "cffi"):
        assert sum(ln.split(":")[0].split(maxsplit=1)[-1] == item for ln in lines) == 1, (item, lines)
    assert [ln for ln in lines if ln.startswith("ok      backend cpu: available")]
    assert lines[-1].startswith("everything deeplink needs is here; next: `deeplink info`")


def test_doctor_rejects_a_torch_outside_the_supported_range(monkeypatch):
    monkeypatch.setattr(doctor, "_torch_range", lambda: "<2.14,>=2.11")
    assert doctor.torch_check("2.13.0+cpu", Path("/x")).ok
    old = doctor.torch_check("2.4.1", Path("/x"))
    assert not old.ok and old.required and "pip install 'torch<2.14,>=2.11'" in old.line()


def test_doctor_names_the_extra_that_provides_a_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(doctor.importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    monkeypatch.setattr(doctor, "extra_providing", lambda dist: "demo" if dist == "transformers" else None)
    [line] = [c.line() for c in doctor.checks() if c.what == "transformers"]
    assert line.startswith("absent") and "pip install 'deeplink[demo]'" in line


def test_extra_providing_reads_the_package_metadata():
    requirements = importlib.metadata.requires("deeplink") or []
    extras = {}
    for req in requirements:
        if "extra ==" in req:
            extras.setdefault(req.split("extra ==")[-1].strip(" '\""), []).append(req.split(";")[0].split(">")[0].split("=")[0].strip())
    for extra, packages in extras.items():
        if extra == "test":
            continue
        for package in packages:
            if package.startswith("deeplink["):  # an extra made of other extras
                continue
            assert doctor.extra_providing(package) is not None, (package, extra)


def test_doctor_reports_an_unwritable_cache(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = _cli("doctor", env={"DEEPLINK_CACHE_DIR": str(blocker / "cache"), "DEEPLINK_BUILD_DIR": str(blocker / "b")})
    assert proc.returncode == 1
    bad = [ln for ln in proc.stdout.splitlines() if ln.startswith("MISSING")]
    assert len(bad) == 2 and all("DEEPLINK_CACHE_DIR" in ln for ln in bad), proc.stdout

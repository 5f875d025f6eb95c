"""`pip install .` gives a working package: installed (not editable) into a fresh virtualenv, every
CLI subcommand a user runs works from a directory outside the checkout, with the files it needs
(templates, data, C++ sources, C headers) inside the installed package."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .plugin_env import _check, clean_env, layered_venv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    python = layered_venv(root / "venv")
    _check(subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "--no-index", str(ROOT)], capture_output=True, text=True,
                          env=clean_env(), timeout=600), "pip install . (not editable)")
    return root, python.parent / "deeplink"


def _cli(installed, *args, timeout=600):
    root, exe = installed
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=root, env=clean_env(), timeout=timeout)
    _check(proc, f"deeplink {' '.join(args)}")
    return proc.stdout


def test_the_installed_package_is_used_not_the_checkout(installed):
    root, exe = installed
    out = subprocess.run([str(exe.parent / "python"), "-c", "import deeplink, deeplink.backends.cpu as c; "
                          "print(deeplink.__file__); print(c.__file__)"],
                         capture_output=True, text=True, cwd=root, env=clean_env(), timeout=600)
    _check(out, "import deeplink")
    for line in out.stdout.split():
        assert str(root) in line and str(ROOT) not in line, out.stdout


def test_version_info_and_ops(installed):
    assert _cli(installed, "--version").startswith("deeplink ")
    info = _cli(installed, "info")
    assert "cpu" in info and "available" in info
    assert "add.Tensor" in _cli(installed, "ops", "--tier", "llm")


def test_new_backend_and_test_backend(installed):
    root, _ = installed
    _cli(installed, "new-backend", "instcheck", "--out", str(root / "plugin"))
    assert (root / "plugin" / "src" / "instcheck" / "ops" / "include" / "deeplink" / "kernel.h").exists()
    out = _cli(installed, "test-backend", "cpu", "--", "-k", "round_trip or claimed_ops_run and add")
    assert "passed" in out and "failed" not in out


def test_conformance_run_and_demo(installed):
    root, _ = installed
    _cli(installed, "conformance", "run", "--backend", "cpu", "--ops", "^mul", "--dtypes", "float32",
         "--out", str(root / "report"))
    assert (root / "report" / "report.json").exists() or (root / "report" / "report.json.xz").exists()
    assert "loss" in _cli(installed, "demo", "--steps", "1")


def test_the_installed_metadata_provides_every_extra(installed):
    """`pip install 'deeplink[conformance]'` (or any extra docs/install.md names) is a known extra of
    the installed package, and `all` pulls in every other one."""
    root, exe = installed
    out = subprocess.run([str(exe.parent / "python"), "-c", "import importlib.metadata as m; md = m.metadata('deeplink'); "
                          "print(' '.join(md.get_all('Provides-Extra'))); print('|'.join(m.requires('deeplink')))"],
                         capture_output=True, text=True, cwd=root, env=clean_env(), timeout=600)
    _check(out, "importlib.metadata of the installed deeplink")
    provided, requires = out.stdout.splitlines()
    assert {"onnxruntime", "models", "conformance", "test", "all"} <= set(provided.split())
    [all_req] = [r for r in requires.split("|") if "extra == \"all\"" in r or "extra == 'all'" in r]
    included = set(all_req.split("[", 1)[1].split("]", 1)[0].replace(" ", "").split(","))
    assert included == set(provided.split()) - {"all"}, all_req

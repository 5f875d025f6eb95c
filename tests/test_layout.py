"""The tree has one shape (issue "One house"): every backend folder, and what `deeplink new-backend`
generates, have the same parts; folders map to import names in one place only."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"__init__.py", "backend.py", "runtime.py", "kernels.py"}
OPTIONAL = {"collectives.py", "compile.py", "ops", "_vendor", "__pycache__"}
BACKENDS = sorted(p.name for p in (ROOT / "backends").iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def check_backend_folder(folder: Path) -> None:
    entries = {p.name for p in folder.iterdir()}
    missing = REQUIRED - entries
    assert not missing, f"{folder} lacks {sorted(missing)} (every backend has {sorted(REQUIRED)})"
    extra = entries - REQUIRED - OPTIONAL
    assert not extra, f"{folder} has {sorted(extra)}: a backend folder holds only {sorted(REQUIRED | OPTIONAL)}"
    init = ast.parse((folder / "__init__.py").read_text())
    for node in init.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]
        ok = is_doc or is_all or isinstance(node, (ast.Import, ast.ImportFrom))
        assert ok, f"{folder}/__init__.py line {node.lineno}: __init__.py re-exports only (code goes in backend.py & co.)"


def test_there_are_backends():
    assert {"cpu", "cuda", "ascend", "onnxruntime"} <= set(BACKENDS)


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_folder_has_the_one_shape(name):
    check_backend_folder(ROOT / "backends" / name)


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_class_lives_in_backend_py(name):
    import importlib
    import deeplink.backend
    pkg = importlib.import_module(f"deeplink.backends.{name}")
    classes = [v for v in vars(pkg).values() if isinstance(v, type) and issubclass(v, deeplink.backend.Backend)]
    assert classes and all(c.__module__ == f"deeplink.backends.{name}.backend" for c in classes)


def test_the_scaffold_generates_the_same_shape(tmp_path):
    from deeplink.scaffold import generate
    generate("shapecheck", tmp_path / "pkg")
    folder = tmp_path / "pkg" / "src" / "shapecheck"
    check_backend_folder(folder)


def test_folder_mapping_is_said_once_and_nothing_else_is_importable():
    # Only deeplink/_layout.py maps folders to import names (setup.py reads it); nothing in the
    # package extends a __path__ or sys.path to reach other folders.
    trick = re.compile(r"__path__\s*(=|\+=|\.append|\.extend|\.insert)|sys\.path\.(append|insert|extend)")
    offenders = [str(p.relative_to(ROOT)) for folder in ("deeplink", "backends", "csrc")
                 for p in (ROOT / folder).glob("**/*.py") if trick.search(p.read_text()) and p.name != "_layout.py"]
    assert offenders == []
    assert "FOLDERS" in (ROOT / "setup.py").read_text()
    code = ("import deeplink, importlib.util as u; "
            "print([n for n in ('deeplink.deeplink', 'deeplink.tests', 'deeplink.docs') if u.find_spec(n)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_ascend_emulator_is_not_shipped():
    assert not (ROOT / "backends" / "ascend" / "emulator").exists()
    assert (ROOT / "tests" / "ascend_emulator" / "build.py").exists()

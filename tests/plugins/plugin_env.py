"""A throwaway virtualenv to install plugins into, layered on the interpreter running the tests.

`python -m venv --system-site-packages`, run from a virtualenv's python, links the *base*
interpreter's site-packages, not the virtualenv's (where torch and deeplink are). So the new venv
gets a .pth file that adds the running interpreter's site-packages with site.addsitedir (which
also processes the .pth files there, e.g. deeplink's editable install). torch is not reinstalled;
plugins are installed with `pip install --no-deps --no-build-isolation --no-index` (no network).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATED = "genaccel"                 # the plugin made by deeplink new-backend
BROKEN_IMPORT = "dlt_broken_import"    # entry point whose import raises
BROKEN_ABI = "dlt_broken_abi"          # Backend written for another plugin ABI version


@dataclass
class PluginVenv:
    root: Path
    python: Path
    plugin_dir: Path

    @classmethod
    def create(cls, root: Path) -> "PluginVenv":
        from deeplink.scaffold import generate
        python = layered_venv(root / "venv")
        plugin_dir = root / GENERATED
        generate(GENERATED, plugin_dir)
        broken = [_write_broken_import(root / BROKEN_IMPORT), _write_broken_abi(root / BROKEN_ABI)]
        _check(subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                               "--no-build-isolation", "--no-index", str(plugin_dir), *map(str, broken)],
                              capture_output=True, text=True, cwd=root, env=clean_env()), "pip install of the plugins")
        return cls(root, python, plugin_dir)

    def run(self, code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run Python `code` in the venv (cwd: the venv's parent folder, so no source tree shadows
        the installed packages)."""
        return subprocess.run([str(self.python), "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                              cwd=self.root, env=clean_env(), timeout=timeout)

    def run_json(self, code: str) -> dict:
        """Run `code`, which prints one JSON object as its last line of stdout; return it."""
        proc = self.run(code)
        _check(proc, "the script in the plugin venv")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def layered_venv(venv: Path) -> Path:
    """A new virtualenv that sees the running interpreter's packages (torch, ...) after its own;
    returns its python. Packages installed into it shadow the running interpreter's."""
    _check(subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                          capture_output=True, text=True), "creating the virtualenv")
    python = venv / "bin" / "python"
    site_packages = Path(_run_py(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    parent = sysconfig.get_paths()["purelib"]
    (site_packages / "_deeplink_test_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def clean_env() -> dict:
    env = dict(os.environ)
    for var in ("DEEPLINK_BACKEND", "PYTHONPATH", "PYTHONHOME", "DEEPLINK_CONTRACT_BACKENDS",
                "DEEPLINK_CONTRACT_PLUGINS"):
        env.pop(var, None)
    env["DEEPLINK_FALLBACK"] = "warn"
    return env


def _run_py(python: Path, code: str) -> str:
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    _check(proc, f"running {python}")
    return proc.stdout


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed (exit {proc.returncode}):\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-6000:]}")


def _pyproject(name: str, entry: str) -> str:
    return textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name.replace('_', '-')}"
        version = "0.0.1"

        [project.entry-points."deeplink.backends"]
        {entry}

        [tool.setuptools]
        packages = ["{name}"]
        """)


def _write_broken_import(d: Path) -> Path:
    (d / BROKEN_IMPORT).mkdir(parents=True)
    (d / "pyproject.toml").write_text(_pyproject(BROKEN_IMPORT, f'broken_import = "{BROKEN_IMPORT}:Backend"'))
    (d / BROKEN_IMPORT / "__init__.py").write_text(
        "raise ImportError('libvendor_runtime.so.3: cannot open shared object file (test plugin)')\n")
    return d


def _write_broken_abi(d: Path) -> Path:
    (d / BROKEN_ABI).mkdir(parents=True)
    (d / "pyproject.toml").write_text(_pyproject(BROKEN_ABI, f'broken_abi = "{BROKEN_ABI}:OldBackend"'))
    (d / BROKEN_ABI / "__init__.py").write_text(textwrap.dedent("""\
        from deeplink.backend import Backend


        class OldBackend(Backend):
            name = "broken_abi"
            abi_version = 999  # written for a plugin ABI this deeplink does not speak
        """))
    return d

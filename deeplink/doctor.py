"""`deeplink doctor`: what this machine has and lacks for deeplink, one line per item.

Runs without the shim (deeplink/_build.py lets `deeplink doctor` import the package without
building it), so it works exactly where `import deeplink` does not. Required items are what the
shim build needs (compiler, ninja, headers, a writable cache) and a torch in the supported range;
optional ones are the backends (asked of a child process that imports deeplink, so a plugin that
crashes cannot take doctor down) and Python packages used by some features, each named with the
pip extra of deeplink that installs it (read from deeplink's own package metadata, so it always
matches pyproject.toml).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Optional packages: (import name, distribution name, what needs it).
OPTIONAL = [
    ("onnxruntime", "onnxruntime", "the onnxruntime backend"),
    ("onnx", "onnx", "the onnxruntime backend (builds its graphs)"),
    ("transformers", "transformers", "`deeplink demo` and the model tests"),
    ("expecttest", "expecttest", "`deeplink conformance` (PyTorch's OpInfo database imports it)"),
    ("cffi", "cffi", "C kernels (deeplink.ckernel.CKernel)"),
    ("pytest", "pytest", "the test suites (`make test`, a plugin's tests)"),
]


@dataclass
class Check:
    ok: bool
    what: str
    detail: str
    required: bool = True

    def line(self) -> str:
        mark = "ok     " if self.ok else ("MISSING" if self.required else "absent ")
        return f"{mark} {self.what}: {self.detail}"


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def _writable(path: Path) -> str:
    """'' when files can be created in path (made if missing), else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".doctor-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return ""
    except OSError as e:
        return e.strerror or str(e)


def _torch_range() -> str | None:
    """The torch versions deeplink declares it supports (its package metadata), e.g. '<2.14,>=2.11'."""
    try:
        requirements = importlib.metadata.requires("deeplink") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for req in requirements:
        m = re.fullmatch(r"torch\s*([<>=!~][^;]*)", req.strip())
        if m:
            return m.group(1).strip()
    return None


def torch_check(version: str, where: Path) -> Check:
    spec = _torch_range()
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version
        supported = spec is None or Version(version.split("+")[0]) in SpecifierSet(spec)
    except ImportError:  # packaging is not installed: the range cannot be checked here
        supported = True
    if supported:
        return Check(True, "torch", f"{version} at {where}" + (f" (deeplink supports torch{spec})" if spec else ""))
    return Check(False, "torch", f"{version} at {where} is outside the range deeplink supports (torch{spec}): "
                                 f"pip install 'torch{spec}' (the CPU wheel: add --index-url "
                                 f"https://download.pytorch.org/whl/cpu)")


# What the child prints: one JSON list of deeplink.list_backends() (name, available, reason, active).
_BACKENDS_CHILD = """
import json, deeplink
print("BACKENDS " + json.dumps([{k: b.get(k) for k in ("name", "available", "reason", "active", "source")}
                                for b in deeplink.list_backends()]))
"""
BACKENDS_TIMEOUT_S = 300


def backend_checks() -> list[Check]:
    """One line per backend, from a child process (a plugin that exits or crashes at import ends
    the child, not doctor); needs the shim built."""
    try:
        proc = subprocess.run([sys.executable, "-c", _BACKENDS_CHILD], capture_output=True, text=True,
                              timeout=BACKENDS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [Check(False, "backends", f"`import deeplink` did not finish in {BACKENDS_TIMEOUT_S} s", required=False)]
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BACKENDS ")), None)
    if line is None:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return [Check(False, "backends", f"`import deeplink` failed: {last}", required=False)]
    out = []
    for b in json.loads(line[len("BACKENDS "):]):
        state = ("available, active" if b["active"] else "available") if b["available"] else \
            f"unavailable: {b['reason']}"
        out.append(Check(bool(b["available"]), f"backend {b['name']}", f"{state} [{b['source']}]", required=False))
    if not any(b.ok for b in out):
        out.append(Check(False, "backends", "none is available, not even cpu: see the reasons above", required=False))
    return out


def extra_providing(distribution: str) -> str | None:
    """The pip extra of deeplink that installs `distribution`, or None."""
    try:
        requirements = importlib.metadata.requires("deeplink") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for req in requirements:
        name = re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0].lower().replace("_", "-")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if name == distribution.lower() and extra and extra.group(1) != "test":
            return extra.group(1)
    return None


def checks() -> list[Check]:
    from . import _build
    from .cache_dirs import cache_root
    out = []
    try:
        import torch
        out.append(torch_check(torch.__version__, Path(torch.__file__).parent))
    except ImportError as e:
        return [Check(False, "torch", f"does not import ({e}): pip install torch (the CPU wheel: "
                                      f"pip install torch --index-url https://download.pytorch.org/whl/cpu)")]
    missing = dict(_build.toolchain_problems())
    cxx = _build.compiler()
    out.append(Check("C++ compiler" not in missing, "C++ compiler",
                     missing.get("C++ compiler") or f"{cxx} ({_first_line([*cxx.split(), '--version'])})"))
    out.append(Check("ninja" not in missing, "ninja", missing.get("ninja") or _first_line(["ninja", "--version"])))
    out.append(Check("Python headers" not in missing, "Python headers", missing.get("Python headers") or "Python.h found"))
    out.append(Check("torch headers" not in missing, "torch headers", missing.get("torch headers") or "found"))
    for what, path in (("shim cache", _build.shim_root()), ("cache folder", cache_root())):
        why = _writable(path)
        out.append(Check(not why, f"{what} writable", str(path) if not why else
                         f"{path} is not writable ({why}): set DEEPLINK_CACHE_DIR (or XDG_CACHE_HOME) to a writable folder"))
    folder = _build.build_dir()
    problem = _build.validate(folder)
    state = f"built at {folder}" if problem is None else (
        f"{problem}: `deeplink build` compiles it (else the first `import deeplink` does)")
    out.append(Check(problem is None, "shim", state, required=False))
    if problem is None:
        out.extend(backend_checks())
    for module, dist, used_by in OPTIONAL:
        if importlib.util.find_spec(module) is not None:
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                version = "installed"
            out.append(Check(True, dist, f"{version} (for {used_by})", required=False))
        else:
            extra = extra_providing(dist)
            how = f"pip install 'deeplink[{extra}]'" if extra else f"pip install {dist}"
            out.append(Check(False, dist, f"not installed; needed for {used_by}: {how}", required=False))
    return out


def run() -> int:
    """Print every check, then what to do next; exit status 1 when a required item is missing."""
    results = checks()
    for c in results:
        print(c.line())
    failed = [c for c in results if c.required and not c.ok]
    if failed:
        print(f"{len(failed)} required item(s) missing; next: fix the MISSING lines above (each says how), "
              f"then run `deeplink doctor` again")
    elif not any(c.what == "shim" and c.ok for c in results):
        print("everything deeplink needs is here; next: `deeplink build` compiles the shim (1-3 minutes)")
    else:
        print("everything deeplink needs is here; next: `deeplink info` shows the backends and their ops, "
              "`deeplink demo` trains a tiny model on the device")
    return 1 if failed else 0

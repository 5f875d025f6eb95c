"""`deeplink doctor`: what this machine has and lacks for deeplink, one line per item.

Runs without the shim (deeplink/_build.py lets `deeplink doctor` import the package without
building it), so it works exactly where `import deeplink` does not. Required items are what the
shim build needs (compiler, ninja, headers, a writable cache); optional ones are Python packages
used by some features, each named with the pip extra of deeplink that installs it (read from
deeplink's own package metadata, so it always matches pyproject.toml).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Optional packages: (import name, distribution name, what needs it).
OPTIONAL = [
    ("onnxruntime", "onnxruntime", "the onnxruntime backend"),
    ("onnx", "onnx", "the onnxruntime backend (builds its graphs)"),
    ("transformers", "transformers", "`deeplink demo` and the LLM conformance cases"),
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
        out.append(Check(True, "torch", f"{torch.__version__} at {Path(torch.__file__).parent}"))
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
    """Print every check; exit status 1 when a required item is missing."""
    results = checks()
    for c in results:
        print(c.line())
    failed = [c for c in results if c.required and not c.ok]
    print(f"{len(failed)} required item(s) missing" if failed else "everything deeplink needs is here")
    return 1 if failed else 0

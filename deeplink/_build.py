"""Compile the C++ shim (csrc/) against the installed torch, once, and load it.

The build is cached under $DEEPLINK_BUILD_DIR (default ~/.cache/deeplink), in a folder named by a
hash of the sources, the torch version and the Python version: an import with a matching build
loads the .so directly, without invoking the compiler or ninja. A file lock makes concurrent first
imports (pytest-xdist workers, conformance workers) wait for one build instead of racing.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import time
from pathlib import Path

MODULE_NAME = "deeplink_C"
CFLAGS = ["-O2", "-fvisibility=hidden"]


def csrc_dir() -> Path:
    import deeplink.csrc  # the csrc/ folder, mapped as a package (see setup.py / deeplink/__init__.py)
    return Path(deeplink.csrc.__path__[0])


def _sources(root: Path):
    return sorted((root / "shim").glob("*.cpp"))


def _fingerprint(root: Path) -> str:
    import torch
    h = hashlib.sha256()
    h.update(torch.__version__.encode())
    h.update(sys.version.encode())
    h.update(" ".join(CFLAGS).encode())
    # What the shim is compiled from: its sources and the runtime header (other headers in
    # csrc/include are for plugin authors and do not change the shim).
    inputs = list((root / "shim").glob("*.cpp")) + list((root / "shim").glob("*.h")) + \
        [root / "include" / "deeplink" / "runtime.h"]
    for path in sorted(inputs):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_dir() -> Path:
    import torch
    base = Path(os.environ.get("DEEPLINK_BUILD_DIR", Path.home() / ".cache" / "deeplink"))
    return base / f"shim-torch{torch.__version__}-{_fingerprint(csrc_dir())}"


def _load_so(path: Path):
    loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load():
    out = build_dir()
    so = out / f"{MODULE_NAME}.so"
    if so.exists():
        return _load_so(so)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not so.exists():
            _compile(out)
    return _load_so(so)


def _compile(out: Path):
    from torch.utils import cpp_extension
    root = csrc_dir()
    t0 = time.time()
    print(f"deeplink: compiling the C++ shim into {out} (first use with this torch; ~1 min on 2 cores)...",
          file=sys.stderr, flush=True)
    cpp_extension.load(
        name=MODULE_NAME,
        sources=[str(s) for s in _sources(root)],
        extra_include_paths=[str(root / "include")],
        extra_cflags=CFLAGS,
        build_directory=str(out),
        is_python_module=True,
        verbose=bool(os.environ.get("DEEPLINK_BUILD_VERBOSE")),
    )
    print(f"deeplink: shim built in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

"""Compile the C++ shim (csrc/) against the installed torch, once, and load it.

The build is cached under $DEEPLINK_BUILD_DIR (default ~/.cache/deeplink), in a folder named by a
hash of the sources, the torch version and the Python version: an import with a matching build
loads the .so directly, without invoking the compiler or ninja. A file lock makes concurrent first
imports (pytest-xdist workers, conformance workers) wait for one build instead of racing.

Two extensions are built this way: the shim (csrc/shim, loaded by `import deeplink`) and the
torch.distributed backend (csrc/distributed, loaded on the first deeplink process group).
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CFLAGS = ["-O2", "-fvisibility=hidden"]


@dataclass(frozen=True)
class Extension:
    module: str                 # name of the Python extension module
    folder: str                 # csrc/<folder>/*.cpp are its sources (and *.h its headers)
    headers: tuple = ()         # other files under csrc/ it is compiled from


SHIM = Extension("deeplink_C", "shim", ("include/deeplink/runtime.h", "include/deeplink/dlpack_abi.h"))
DISTRIBUTED = Extension("deeplink_dist_C", "distributed", ("shim/allocator.h",))


def csrc_dir() -> Path:
    import deeplink.csrc  # the csrc/ folder, mapped as a package (see setup.py / deeplink/__init__.py)
    return Path(deeplink.csrc.__path__[0])


def _sources(root: Path, ext: Extension):
    return sorted((root / ext.folder).glob("*.cpp"))


def _fingerprint(root: Path, ext: Extension = SHIM) -> str:
    import torch
    h = hashlib.sha256()
    h.update(torch.__version__.encode())
    h.update(sys.version.encode())
    h.update(" ".join(CFLAGS).encode())
    # What the extension is compiled from: its sources and the headers it names (for the shim,
    # the runtime and DLPack headers; other headers in csrc/include are for plugin authors).
    inputs = list((root / ext.folder).glob("*.cpp")) + list((root / ext.folder).glob("*.h")) + \
        [root / h for h in ext.headers]
    for path in sorted(inputs):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_dir(ext: Extension = SHIM) -> Path:
    import torch
    base = Path(os.environ.get("DEEPLINK_BUILD_DIR", Path.home() / ".cache" / "deeplink"))
    return base / f"{ext.folder}-torch{torch.__version__}-{_fingerprint(csrc_dir(), ext)}"


def _load_so(path: Path, name: str):
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load(ext: Extension = SHIM):
    out = build_dir(ext)
    so = out / f"{ext.module}.so"
    if so.exists():
        return _load_so(so, ext.module)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not so.exists():
            _compile(out, ext)
    return _load_so(so, ext.module)


def _compile(out: Path, ext: Extension):
    from torch.utils import cpp_extension
    root = csrc_dir()
    t0 = time.time()
    print(f"deeplink: compiling the C++ {ext.folder} extension into {out} (first use with this torch; "
          f"~1 min on 2 cores)...", file=sys.stderr, flush=True)
    cpp_extension.load(
        name=ext.module,
        sources=[str(s) for s in _sources(root, ext)],
        extra_include_paths=[str(root / "include")],
        extra_cflags=CFLAGS,
        build_directory=str(out),
        is_python_module=True,
        verbose=bool(os.environ.get("DEEPLINK_BUILD_VERBOSE")),
    )
    print(f"deeplink: {ext.folder} extension built in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

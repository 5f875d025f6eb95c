"""load_opset(): the operator set, built once per torch install and then read back.

Building reads the yaml (~0.3 s) and asks torch, in a child process, for OpInfo dtypes and
autogen schemas (~3 s). So the result is kept in memory for the process and in a JSON file in this
environment's cache folder (paths.cache_dir(); ~/.cache/deeplink/env/<venv>-<hash> by default), named after the torch
version and a digest of every input: the yaml's path, size and mtime, the data files, and the
source of this package (so a code change can never serve a stale set). Reading it back takes
tens of milliseconds. A cache that cannot be written or read is skipped, never fatal.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .build import build_opset
from .installed_torch import installed_torch_version
from .model import OpSet
from .native_yaml import find_native_functions_yaml
from .paths import cache_dir, data_file
from .registrations import REGISTRATIONS_FILE
from .workloads import STEP_TIMES_FILE, WORKLOADS_FILE

_PACKAGE_DIR = Path(__file__).resolve().parent
_memory: dict[str, OpSet] = {}


def _digest() -> str:
    h = hashlib.sha256()
    yaml_path = find_native_functions_yaml()
    stat = yaml_path.stat()
    h.update(f"{yaml_path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    for name in (REGISTRATIONS_FILE, WORKLOADS_FILE, STEP_TIMES_FILE):
        h.update(data_file(name).read_bytes())
    for source in sorted(_PACKAGE_DIR.glob("*.py")):
        h.update(source.name.encode())
        h.update(source.read_bytes())
    return h.hexdigest()[:16]


def cache_path() -> Path:
    version = installed_torch_version().replace("/", "_")
    return cache_dir() / f"opset-torch{version}-{_digest()}.json"


def _read(path: Path) -> OpSet | None:
    try:
        with open(path, encoding="utf-8") as f:
            return OpSet.from_dict(json.load(f), loaded_from=str(path))
    except (OSError, ValueError, KeyError, TypeError):
        return None     # missing, partial or from an older layout: rebuild


def _write(path: Path, opset: OpSet) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(opset.to_dict(), f)
        os.replace(tmp, path)     # atomic: concurrent readers see the old file or the new one
        # Files of the same torch version under another digest are stale (an input changed).
        prefix = path.name.rsplit("-", 1)[0] + "-"
        for old in path.parent.glob(prefix + "*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def load_opset(*, refresh: bool = False, use_file_cache: bool = True) -> OpSet:
    """The operator set of the installed torch. `refresh=True` rebuilds and rewrites the cache."""
    path = cache_path()
    key = str(path)
    if not refresh and key in _memory:
        return _memory[key]
    opset = None
    if use_file_cache and not refresh:
        opset = _read(path)
    if opset is None:
        opset = build_opset()
        # Facts missing because the torch query failed (see notes) may be transient: do not pin them.
        if use_file_cache and not opset.torch_query_error:
            _write(path, opset)
    _memory[key] = opset
    return opset


def clear_memory_cache() -> None:
    _memory.clear()

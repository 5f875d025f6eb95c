"""Where deeplink keeps what it computes once: the compiled shim and the operator-set cache.

    $DEEPLINK_CACHE_DIR, else $XDG_CACHE_HOME/deeplink, else ~/.cache/deeplink

Files that depend on the Python environment (the opset cache) live under `env/<name>-<hash>/`,
one folder per environment (sys.prefix), so two virtualenvs sharing a cache folder never replace
or delete each other's files. Shim builds are keyed by what they are compiled against (the torch
install, the Python version and the sources) and shared by environments that have the same.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def cache_root() -> Path:
    explicit = os.environ.get("DEEPLINK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deeplink"


def environment_dir() -> Path:
    prefix = os.path.realpath(sys.prefix)
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:10]
    return cache_root() / "env" / f"{Path(prefix).name or 'root'}-{digest}"


def unwritable_message(path: Path, error: OSError) -> str:
    return (f"deeplink cannot write its cache folder {path} ({error.strerror or error}). Point "
            f"DEEPLINK_CACHE_DIR at a writable folder (e.g. DEEPLINK_CACHE_DIR=/tmp/deeplink-cache), or set "
            f"XDG_CACHE_HOME; a shim built elsewhere can be used by pointing DEEPLINK_CACHE_DIR at its cache.")

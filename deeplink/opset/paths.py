"""Where the opset's inputs and caches live."""
from __future__ import annotations

import os
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_file(name: str) -> Path:
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"deeplink data file {name!r} is missing from {DATA_DIR}; it ships with the package "
            "(see deeplink/data/README.md). Reinstall deeplink or restore the file from the repository.")
    return path


def cache_dir() -> Path:
    """$DEEPLINK_CACHE_DIR, else $XDG_CACHE_HOME/deeplink, else ~/.cache/deeplink."""
    explicit = os.environ.get("DEEPLINK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deeplink"

"""Where the opset's inputs and caches live."""
from __future__ import annotations

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
    """This Python environment's folder in deeplink's cache (deeplink/cache_dirs.py): two
    virtualenvs sharing a cache folder never replace or delete each other's opset files."""
    from ..cache_dirs import environment_dir
    return environment_dir()

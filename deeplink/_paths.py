"""Make `deeplink.backends`, `deeplink.conformance` and `deeplink.csrc` importable from a source
checkout that was not pip-installed (e.g. `PYTHONPATH=. python ...` on a GPU machine without pip
access). Installed copies get the same mapping from setup.py's package_dir."""
from pathlib import Path


def extend(package_path: list) -> None:
    root = Path(__file__).resolve().parent.parent
    if (root / "backends" / "__init__.py").exists() and str(root) not in package_path:
        package_path.append(str(root))

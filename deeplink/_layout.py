"""Where the parts of the `deeplink` package live in the source tree: the one place that says it.

    deeplink            deeplink/       the core (device, dispatcher, registry, CLI)
    deeplink.backends   backends/       the in-tree vendor backends
    deeplink.conformance conformance/   the conformance suite
    deeplink.csrc       csrc/           the C++ shim and the C ABI headers

setup.py installs the folders under these names (its package_dir comes from FOLDERS). A checkout
used without `pip install` (e.g. `PYTHONPATH=. python ...` on a machine with no package index)
gets the same mapping from `SourceTreeFinder`, which maps exactly these names and nothing else.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

FOLDERS = {"deeplink.backends": "backends", "deeplink.conformance": "conformance", "deeplink.csrc": "csrc"}


class SourceTreeFinder:
    """Finds deeplink.backends / .conformance / .csrc in the checkout `root`."""

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        folder = FOLDERS.get(fullname)
        if folder is None:
            return None
        init = self.root / folder / "__init__.py"
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[str(init.parent)])


def map_source_tree() -> None:
    """Called by deeplink/__init__.py: when deeplink is imported from a checkout, make the mapped
    folders importable (a pip-installed copy has them already; the finder is then never asked)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "backends" / "__init__.py").exists():
        return
    if not any(isinstance(f, SourceTreeFinder) for f in sys.meta_path):
        sys.meta_path.append(SourceTreeFinder(root))

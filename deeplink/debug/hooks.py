"""Global torch hooks held for the duration of a `with` block (module forward hooks, optimizer
step hooks): the part the kit's trackers share."""
from __future__ import annotations


class GlobalHooks:
    """Subclasses return the handles of the hooks they register in `_register`."""

    def __init__(self):
        self._handles: list = []

    def _register(self) -> list:
        raise NotImplementedError

    def __enter__(self):
        self._handles = self._register()
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return False

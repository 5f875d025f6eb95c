"""The attributes CUDA compatibility mode replaces, remembered so `disable()` puts back exactly
what was there (or removes what was not)."""
from __future__ import annotations

_MISSING = object()


class Patches:
    def __init__(self):
        self._saved: list[tuple[object, str, object]] = []

    def set(self, owner, name: str, value) -> None:
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING) if isinstance(owner, type)
                            else getattr(owner, name, _MISSING)))
        setattr(owner, name, value)

    def original(self, owner, name: str):
        """What `owner.name` was before the first patch of it (None if it did not exist)."""
        for o, n, old in self._saved:
            if o is owner and n == name:
                return None if old is _MISSING else old
        return getattr(owner, name, None)

    def undo(self) -> None:
        for owner, name, old in reversed(self._saved):
            if old is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass
            else:
                setattr(owner, name, old)
        self._saved.clear()

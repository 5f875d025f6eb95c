"""Optional dependencies, named by the pip extra that installs them (pyproject.toml), so a missing
one is reported as what to install rather than as a bare ImportError."""
from __future__ import annotations

import importlib


class MissingExtra(ImportError):
    """A feature needs a package that is not installed; the message names the extra to install."""


def require(module: str, extra: str, purpose: str):
    """Import `module` or raise MissingExtra: "<purpose> needs <module>: pip install 'deeplink[<extra>]'"."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtra(f"{purpose} needs the Python package {module!r}, which is not installed "
                           f"({e}); install it with: pip install 'deeplink[{extra}]'") from e

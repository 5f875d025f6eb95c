"""What a backend name may be. It becomes a Python package name, an entry-point name, and the word
users type in `deeplink.use(NAME)` / DEEPLINK_BACKEND=NAME, so it must be all three at once."""
from __future__ import annotations

import importlib.metadata
import keyword
import re
import sys

_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# Names whose package would shadow something this environment imports.
_TAKEN_MODULES = {"torch", "deeplink", "numpy", "cffi", "setuptools", "pip", "pytest", "tests", "test"}


class InvalidBackendName(ValueError):
    pass


def validate_name(name: str) -> str:
    """Return `name` if it can name a backend plugin, else raise InvalidBackendName saying why."""
    if not isinstance(name, str) or not name:
        raise InvalidBackendName("the backend name is empty; give one such as `myaccel`")
    if not name.isidentifier() or not name.isascii():
        raise InvalidBackendName(f"backend name {name!r} is not a Python identifier: use ASCII letters, digits "
                                 f"and underscores, not starting with a digit (e.g. `my_accel`)")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise InvalidBackendName(f"backend name {name!r} is a Python keyword; pick another")
    if not _PATTERN.fullmatch(name):
        raise InvalidBackendName(f"backend name {name!r}: use lowercase letters, digits and underscores, "
                                 f"starting with a letter (it becomes a package name), e.g. {name.lower().strip('_')!r}")
    if name in sys.stdlib_module_names or name in _TAKEN_MODULES:
        raise InvalidBackendName(f"backend name {name!r} is the name of a module Python or deeplink already uses; "
                                 f"its package would shadow it. Pick another, e.g. `{name}_backend`")
    for ep in importlib.metadata.entry_points(group="deeplink.backends"):
        if ep.name == name and ep.module.split(".")[0] != name:
            raise InvalidBackendName(f"a backend named {name!r} is already installed ({ep.value}); pick another name")
    return name


def class_prefix(name: str) -> str:
    """my_accel -> MyAccel (the Backend class is <prefix>Backend)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)

"""An "installed" plugin without pip: a folder holding a module and a `<dist>.dist-info` with its
entry points. Put the folder on PYTHONPATH and importlib.metadata (hence deeplink's discovery)
finds the plugin exactly as if it were pip-installed. Used by the plugin-isolation tests and by
scripts/fault_table.py."""
from __future__ import annotations

import textwrap
from pathlib import Path

# A backend whose every part works; plugins override the part they break.
BASE_BACKEND = """
import time
import deeplink.runtime as _rt
from deeplink.backend import Availability, Backend
# Older checkouts (scripts/fault_table.py --tree measures one) name the host runtime LibcRuntime.
HostRuntime = getattr(_rt, "HostRuntime", None) or _rt.LibcRuntime


class Bad(Backend):
    name = {name!r}
    priority = {priority}

    def probe(self):
        return Availability.yes()

    def runtime(self):
        return HostRuntime()
"""


def write_plugin(site: Path, module: str, code: str, entries: dict[str, str], dist: str | None = None) -> Path:
    """Write module `module` (source `code`) and a dist-info declaring `entries` ({entry-point
    name: "module:attr"}) in the group deeplink.backends, under `site`. Returns `site`."""
    dist = dist or module.replace("_", "-")
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[deeplink.backends]\n" +
                                           "".join(f"{k} = {v}\n" for k, v in entries.items()))
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    return site


def write_bad_plugin(site: Path, body: str = "", *, name: str = "bad", priority: int = 10 ** 6,
                     module: str = "dlbadplugin") -> Path:
    """A plugin package `module` whose backend class `Bad` (named `name`) is BASE_BACKEND with
    `body` appended (e.g. a replacement for one method, or a raise at import)."""
    code = BASE_BACKEND.format(name=name, priority=priority) + textwrap.dedent(body)
    return write_plugin(site, module, code, {name: f"{module}:Bad"})

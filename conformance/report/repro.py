"""The one-line command that reruns one case of a report: `deeplink conformance run --backend B
--case ID`, plus the plugins and extra golden data the run used (without them the case cannot be
built). `--case` runs the case afresh into ./conformance-repro (docs/conformance.md)."""
from __future__ import annotations

import shlex


def repro_prefix(report: dict) -> str:
    """Everything but the case id: `deeplink conformance run --backend B [--plugin P] ... --case`."""
    parts = ["deeplink", "conformance", "run", "--backend", str(report["backend"].get("name"))]
    options = report.get("options") or {}
    for plugin in options.get("plugins") or []:
        parts += ["--plugin", plugin]
    for golden in options.get("extra_golden") or []:
        parts += ["--golden", golden]
    return shlex.join(parts + ["--case"])


def repro_command(report: dict, case_id: str, prefix: str | None = None) -> str:
    return f"{prefix or repro_prefix(report)} {shlex.quote(case_id)}"

"""Render template/ into a plugin package directory."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from .names import class_prefix, validate_name

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
HEADERS = ("kernel.h", "dlpack_abi.h", "runtime.h")  # what the plugin's C code compiles against
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class TargetNotEmpty(FileExistsError):
    pass


def generate(name: str, out: str | Path, force: bool = False) -> list[Path]:
    """Write plugin package `name` into directory `out`; return the files written.

    Refuses a non-empty `out` unless force=True (then the generated files are overwritten and other
    files are left alone)."""
    validate_name(name)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TargetNotEmpty(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise TargetNotEmpty(f"{out} is not empty; choose an empty or new directory, or pass --force to "
                             f"overwrite the generated files in it")
    values = {"name": name, "Name": class_prefix(name)}
    written = []
    for src in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        rel = src.relative_to(TEMPLATE_DIR).as_posix()[: -len(".tmpl")].replace("__name__", name)
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(_render(src.read_text(), values, src))
        written.append(dst)
    include = out / "src" / name / "ops" / "include" / "deeplink"
    include.mkdir(parents=True, exist_ok=True)
    for header in HEADERS:
        shutil.copyfile(headers_dir() / header, include / header)
        written.append(include / header)
    return written


def headers_dir() -> Path:
    from deeplink._build import csrc_dir
    return csrc_dir() / "include" / "deeplink"


def _render(text: str, values: dict, src: Path) -> str:
    def sub(m):
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template {src} uses unknown placeholder {{{{{key}}}}}")
        return values[key]
    return _PLACEHOLDER.sub(sub, text)

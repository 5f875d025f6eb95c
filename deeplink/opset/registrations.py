"""What a real CUDA build of torch registers, per dispatch key (deeplink/data/cuda_registrations.json).

Measured with `torch._C._dispatch_get_registrations_for_dispatch_key(key)` on an H100; a CPU-only
build cannot answer it, so the yaml-derived kernels are cross-checked against this file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .names import from_registration
from .paths import data_file

REGISTRATIONS_FILE = "cuda_registrations.json"


@dataclass(frozen=True)
class Registrations:
    source: str                              # how and where it was measured
    torch_version: str                       # "2.11.0+cu130", parsed from `source`
    by_key: dict[str, frozenset[str]]        # dispatch key -> overload names ("add.Tensor")

    def has(self, key: str, op: str) -> bool:
        return op in self.by_key.get(key, ())


def load_registrations(path: str | Path | None = None) -> Registrations:
    path = Path(path) if path is not None else data_file(REGISTRATIONS_FILE)
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    source = raw.get("source", "")
    match = re.search(r"torch (\S+?)[:,]?(\s|$)", source)
    by_key = {key: frozenset(from_registration(n) for n in names)
              for key, names in raw["registrations"].items()}
    return Registrations(source, match.group(1) if match else "unknown", by_key)

"""Device-generic tests that pass on cpu but cannot pass on deeplink, each with the PyTorch
limitation behind it and its upstream issue. scripts/test_pytorch.py matches these patterns
(regular expressions) against "<module>::<Class>::<test name without the device suffix>"."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    pattern: str
    reason: str
    upstream: str


KNOWN: list[Known] = []

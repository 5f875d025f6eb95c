"""Timing shared by the benchmarks: cases measured in alternating rounds, median per case.

On a shared machine load drifts; alternating rounds (every case once per round, in turn) let the
drift hit each case alike, and the median of the rounds ignores the most disturbed ones. Ratios
are only meaningful between cases of one `alternating` call.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass


def per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def _nothing() -> None:
    pass


def alternating(cases: dict, rounds: int, calls: int, warmup: int | None = None, setup: dict | None = None) -> dict:
    """{label: callable} -> {label: median microseconds per call over `rounds` rounds}.
    `setup` ({label: callable}, optional) runs untimed before each batch of that label's calls
    (e.g. activating the backend the case runs on)."""
    setup = setup or {}
    for label, fn in cases.items():
        setup.get(label, _nothing)()
        per_call_us(fn, warmup if warmup is not None else max(1, calls // 10))
    samples = {label: [] for label in cases}
    for _ in range(rounds):
        for label, fn in cases.items():
            setup.get(label, _nothing)()
            samples[label].append(per_call_us(fn, calls))
    return {label: statistics.median(v) for label, v in samples.items()}


@dataclass
class Row:
    """One line of the table: deeplink against the native reference of its backend."""
    backend: str
    case: str
    reference: str       # what the native figure is
    native: float
    deeplink: float
    unit: str            # "us" or "ms"
    target: float | None  # ratio deeplink / native at most
    limit: float | None = None   # or: deeplink - native at most, in `unit`

    @property
    def ratio(self) -> float:
        return self.deeplink / self.native

    @property
    def over(self) -> bool:
        if self.limit is not None:
            return self.deeplink - self.native > self.limit
        return self.target is not None and self.ratio > self.target

    def target_text(self) -> str:
        if self.limit is not None:
            return f"+{self.limit:.1f}{self.unit}"
        return f"{self.target:.2f}x" if self.target else "-"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"

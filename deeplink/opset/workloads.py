"""Real LLM training steps traced on CUDA: which aten overloads they call, how often, how many FLOPs.

Source: deeplink/data/llm_workloads_cuda.json (LLaMA-style 168M and GPT-2 124M, batch 8 x 1024,
fp32 and bf16 autocast, one forward+backward+AdamW step on an H100) and
deeplink/data/llm_workload_step_times.json (their native step times there).

Op names are aten overload names (`mm`, `add.Tensor`; see deeplink/opset/names.py). FLOPs are
counted per op packet by FlopCounterMode; each is attached to the one overload of that packet the
step calls. Calls outside aten (`profiler._record_function_*`) are kept apart in `other_calls`
and count in no coverage figure.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from .names import from_traced, split_name
from .paths import data_file

WORKLOADS_FILE = "llm_workloads_cuda.json"
STEP_TIMES_FILE = "llm_workload_step_times.json"


@dataclass(frozen=True)
class WorkloadCoverage:
    """What share of one workload step a predicate (e.g. "runs natively and correctly") covers."""
    workload: str
    calls_covered: int
    calls_total: int
    flops_covered: int
    flops_total: int
    uncovered: tuple[str, ...]          # ops the predicate rejected, most calls first

    @property
    def calls_fraction(self) -> float:
        return self.calls_covered / self.calls_total if self.calls_total else 1.0

    @property
    def flops_fraction(self) -> float:
        return self.flops_covered / self.flops_total if self.flops_total else 1.0


@dataclass(frozen=True)
class Workload:
    name: str                           # "llama-small/bf16-autocast"
    model: str                          # "llama-small"
    precision: str                      # "bf16-autocast" | "fp32"
    params_millions: float
    batch: int
    seq: int
    calls: Mapping[str, int]            # aten overload -> calls per step
    flops: Mapping[str, int]            # aten overload -> FLOPs per step (only ops FlopCounterMode counts)
    total_flops: int
    step_time_ms: float | None          # native step time on the H100 it was traced on
    other_calls: Mapping[str, int]      # non-aten ops seen in the trace

    @property
    def ops(self) -> frozenset[str]:
        return frozenset(self.calls)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def coverage(self, covered: Callable[[str], bool]) -> WorkloadCoverage:
        """Share of this step's aten calls, and of its FLOPs, in ops for which `covered(op)` holds."""
        ok = {op for op in self.calls if covered(op)}
        uncovered = sorted(set(self.calls) - ok, key=lambda op: (-self.calls[op], op))
        return WorkloadCoverage(
            self.name,
            sum(self.calls[op] for op in ok), self.total_calls,
            sum(f for op, f in self.flops.items() if op in ok), sum(self.flops.values()),
            tuple(uncovered))


def _flops_by_overload(name: str, packet_flops: dict[str, int], calls: dict[str, int]) -> dict[str, int]:
    out = {}
    for packet, flops in packet_flops.items():
        base = from_traced(packet + ".default")
        matches = [op for op in calls if split_name(op)[0] == base]
        if len(matches) != 1:
            raise ValueError(
                f"workload {name!r}: FLOPs are given for op packet {packet!r}, and the step calls "
                f"{len(matches)} overloads of it ({matches}), so they cannot be attributed to one "
                f"overload. Re-trace the workload with per-overload FLOPs or attribute them by hand.")
        out[matches[0]] = flops
    return out


def _parse(name: str, raw: dict, step_times: Mapping[str, float]) -> Workload:
    calls, other = {}, {}
    for traced, n in raw["calls"].items():
        op = from_traced(traced)
        if op is None:
            other[traced] = n
        else:
            calls[op] = calls.get(op, 0) + n
    model, _, precision = name.partition("/")
    return Workload(name, model, precision, raw.get("params_M", 0.0), raw.get("batch", 0),
                    raw.get("seq", 0), calls, _flops_by_overload(name, raw.get("flops", {}), calls),
                    raw.get("total_flops", sum(raw.get("flops", {}).values())), step_times.get(name), other)


def load_workloads(path: str | Path | None = None, step_times_path: str | Path | None = None
                   ) -> dict[str, Workload]:
    """Every workload of the file, by name. Without arguments: the packaged data (cached)."""
    if path is None and step_times_path is None:
        return dict(_packaged())
    return _load(Path(path or data_file(WORKLOADS_FILE)),
                 Path(step_times_path) if step_times_path else data_file(STEP_TIMES_FILE))


def _load(path: Path, step_times_path: Path) -> dict[str, Workload]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    step_times = {}
    if step_times_path.is_file():
        with open(step_times_path, encoding="utf-8") as f:
            step_times = json.load(f).get("step_time_ms", {})
    return {name: _parse(name, w, step_times) for name, w in raw["workloads"].items()}


@functools.lru_cache(maxsize=1)
def _packaged() -> dict[str, Workload]:
    return _load(data_file(WORKLOADS_FILE), data_file(STEP_TIMES_FILE))


def llm_ops(workloads: Mapping[str, Workload] | None = None) -> frozenset[str]:
    """The aten overloads any of the workloads calls: the `llm` tier."""
    workloads = _packaged() if workloads is None else workloads
    return frozenset().union(*(w.ops for w in workloads.values()))

"""What torch.profiler costs on the deeplink device (cpu backend), in one run.

Rows: per-op latency of small ops and one training step of a small LLaMA-style model, with the
profiler off, with torch.profiler recording CPU activity only, and with CPU + DEEPLINK activity
(device times from the backend runtime's events, csrc/shim/profiler.cpp). Ratios are to "off".
With the profiler off the router pays one atomic load per op; that is the "off" column.

Rounds alternate between the modes so drift on a shared machine hits all of them; the table
reports medians.

    python benchmarks/bench_profiler.py [--rounds 9]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

import deeplink
from workloads import small_ops, training_step

MODES = {
    "off": lambda: contextlib.nullcontext(),
    "cpu": lambda: profile(activities=[ProfilerActivity.CPU]),
    "cpu+deeplink": lambda: profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]),
}


def timed(fn, calls: int, mode: str) -> float:
    with MODES[mode]():
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - t0
    return elapsed / calls * 1e6


def measure(fn, rounds: int, calls: int) -> dict:
    timed(fn, max(1, calls // 10), "off")  # warm-up
    times = {m: [] for m in MODES}
    for _ in range(rounds):
        for m in MODES:
            times[m].append(timed(fn, calls, m))
    return {m: statistics.median(t) for m, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    ops = small_ops("deeplink")
    rows = [(name, measure(ops[name], args.rounds, 500), "us") for name in ("add (16x16)", "mm 16x16", "sum (16x16)")]
    step = measure(training_step("deeplink"), max(3, args.rounds // 3), 2)
    rows.append(("LLaMA-style train step", {m: v / 1000 for m, v in step.items()}, "ms"))
    print(f"deeplink {deeplink.__version__}, backend {deeplink.current_backend()}, torch {torch.__version__}, "
          f"{args.rounds} rounds, medians")
    head = f"{'case':<28}" + "".join(f"{m:>14}" for m in MODES) + f"{'cpu/off':>9}{'cpu+dl/off':>12}"
    print(head)
    print("-" * len(head))
    for name, med, unit in rows:
        cells = "".join(f"{med[m]:>11.1f} {unit}" for m in MODES)
        print(f"{name:<28}{cells}{med['cpu'] / med['off']:>8.2f}x{med['cpu+deeplink'] / med['off']:>11.2f}x")


if __name__ == "__main__":
    main()

"""The cpu backend (the reference every other backend is measured against) against native CPU:
small-op latency and the training step, eager and compiled (Inductor on both sides), in
alternating rounds. Targets (issue 14): small op <= 1.25x native, training step <= 1.05x.

    python benchmarks/bench_device.py [--rounds 15]     (one section of `make bench`)
"""
from __future__ import annotations

import argparse

import torch

import deeplink
from timing import Row, alternating
from workloads import small_ops, training_step

SMALL_TARGET, STEP_TARGET = 1.25, 1.05


def rows(rounds: int, compiled: bool = True) -> list[Row]:
    deeplink.use("cpu")
    out = []
    native, ours = small_ops("cpu"), small_ops("deeplink")
    for name in native:
        med = alternating({"cpu": native[name], "deeplink": ours[name]}, rounds, 2000)
        out.append(Row("cpu", name, "ATen CPU", med["cpu"], med["deeplink"], "us", SMALL_TARGET))
    steps = {"cpu": training_step("cpu"), "deeplink": training_step("deeplink")}
    if compiled:
        steps["cpu compiled"] = training_step("cpu", "inductor")
        steps["deeplink compiled"] = training_step("deeplink", "deeplink")
    med = alternating(steps, max(5, rounds // 2), 3, warmup=1)
    out.append(Row("cpu", "train step, eager", "ATen CPU eager", med["cpu"] / 1e3, med["deeplink"] / 1e3,
                   "ms", STEP_TARGET))
    if compiled:
        out.append(Row("cpu", "train step, compiled", "ATen CPU, Inductor", med["cpu compiled"] / 1e3,
                       med["deeplink compiled"] / 1e3, "ms", STEP_TARGET))
    return out


def main() -> None:
    from bench import print_table
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled training step")
    args = parser.parse_args()
    print_table(rows(args.rounds, not args.no_compile), args.rounds)


if __name__ == "__main__":
    main()

"""Overhead of the deeplink device (CPU reference backend) against native CPU, in one run.

Prints a table: per-op latency of small ops (add, in-place mul, 16x16 mm, a view, a sum) and one
training step of a small LLaMA-style model, on `cpu` and on `deeplink`, with the ratio.
Targets (issue 2): small op <= 1.5x native CPU, training step <= 1.1x.

Measurement: for each case, rounds alternate between the two devices (so drift on a shared machine
hits both); each round times a batch of calls; the table reports the median round.

    python benchmarks/bench_device.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import deeplink


def per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def small_ops(device: str):
    a = torch.randn(16, 16, device=device)
    b = torch.randn(16, 16, device=device)
    v = torch.randn(64, device=device)
    return {
        "add (16x16)": lambda: a + b,
        "mul_ in-place (16x16)": lambda: a.mul_(1.0),
        "mm 16x16": lambda: a @ b,
        "view": lambda: v.view(8, 8),
        "sum (16x16)": lambda: a.sum(),
    }


def training_step(device: str):
    from deeplink.models import tiny_model
    model = tiny_model("llama", hidden=128, layers=2).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    ids = torch.randint(0, 128, (4, 64), generator=torch.Generator().manual_seed(0)).to(device)

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return step


def measure(make, rounds: int, calls: int):
    fns = {dev: make(dev) for dev in ("cpu", "deeplink")}
    times = {dev: [] for dev in fns}
    for dev, fn in fns.items():  # warm-up
        per_call_us(fn, max(1, calls // 10))
    for _ in range(rounds):
        for dev, fn in fns.items():
            times[dev].append(per_call_us(fn, calls))
    return {dev: statistics.median(t) for dev, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rows = []
    names = list(small_ops("cpu"))
    for name in names:
        med = measure(lambda dev, n=name: small_ops(dev)[n], args.rounds, 2000)
        rows.append((name, med["cpu"], med["deeplink"], "us", 1.5))
    med = measure(training_step, max(5, args.rounds // 2), 3)
    rows.append(("LLaMA-style train step (0.7M params, 4x64)", med["cpu"] / 1000, med["deeplink"] / 1000, "ms", 1.1))
    print(f"deeplink {deeplink.__version__}, backend {deeplink.current_backend()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.rounds} alternating rounds")
    print(f"{'case':<46} {'cpu':>10} {'deeplink':>10} {'ratio':>7} {'target':>7}")
    for name, c, d, unit, target in rows:
        ratio = d / c
        flag = "" if ratio <= target else "  over"
        print(f"{name:<46} {c:>8.2f}{unit} {d:>8.2f}{unit} {ratio:>6.2f}x {target:>6.2f}x{flag}")


if __name__ == "__main__":
    main()

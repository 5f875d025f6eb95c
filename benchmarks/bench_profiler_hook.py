"""What the profiler hook costs an op while the profiler is off.

The router checks one flag per op before it runs (csrc/shim/router.cpp:
`if (C10_UNLIKELY(g_profiling_ops.load(std::memory_order_relaxed)))`). A build of the shim without
that line is not practical to keep, so this measures the two sides separately:

1. the check itself: the same line in a C++ loop of calls to a function that cannot be inlined
   (as the router's boxed call is not), against the same loop without the line; the difference
   per call is the hook's cost, compiled with the shim's flags (-O2);
2. what an op costs with the profiler off: small ops on deeplink (cpu backend) and the same ops
   on plain ATen CPU tensors, so the hook's nanoseconds can be put next to the op's microseconds.

    python benchmarks/bench_profiler_hook.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

CHECK_LOOP = r"""
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#define C10_UNLIKELY(x) __builtin_expect(static_cast<bool>(x), 0)
std::atomic<bool> g_profiling_ops{false};
volatile long sink = 0;
__attribute__((noinline)) void timed_path() { sink = sink + 1; }
__attribute__((noinline)) long op_with_hook(long x) {
  if (C10_UNLIKELY(g_profiling_ops.load(std::memory_order_relaxed))) timed_path();
  return x + 1;
}
__attribute__((noinline)) long op_without_hook(long x) { return x + 1; }
template <class F> double ns_per_call(F f, long n) {
  auto t0 = std::chrono::steady_clock::now();
  long x = 0;
  for (long i = 0; i < n; ++i) x = f(x);
  sink = sink + x;
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
}
int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 200000000;
  ns_per_call(op_without_hook, n / 4);  // warm-up (clock ramp, page faults)
  double with_hook = 1e9, without = 1e9;
  for (int i = 0; i < 3; ++i) {  // alternate, keep each side's best
    double a = ns_per_call(op_with_hook, n), b = ns_per_call(op_without_hook, n);
    with_hook = a < with_hook ? a : with_hook;
    without = b < without ? b : without;
  }
  std::printf("%.4f %.4f\n", with_hook, without);
}
"""


def check_cost(rounds: int) -> tuple[float, float]:
    """(ns per call with the hook, without), the best round of each (least disturbed by load)."""
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "hook.cpp", Path(tmp) / "hook"
        src.write_text(CHECK_LOOP)
        subprocess.run([cxx, "-O2", "-std=c++17", str(src), "-o", str(exe)], check=True, timeout=300)
        runs = [tuple(map(float, subprocess.run([str(exe)], capture_output=True, text=True, check=True,
                                                timeout=300).stdout.split())) for _ in range(rounds)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def op_times(device: str, rounds: int, calls: int = 2000) -> dict:
    from workloads import small_ops
    ops = small_ops(device)
    out = {}
    for name in ("add (16x16)", "mm 16x16", "sum (16x16)"):
        fn = ops[name]
        for _ in range(calls // 10):
            fn()
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            samples.append((time.perf_counter() - t0) / calls * 1e6)
        out[name] = statistics.median(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with_hook, without = check_cost(args.rounds)
    hook = with_hook - without  # may come out negative: the check is below this machine's noise
    print(f"the check, {args.rounds} runs, best: {with_hook:.3f} ns per call with it, {without:.3f} ns without: "
          f"{hook:+.3f} ns per op")
    import deeplink
    dl, cpu = op_times("deeplink", args.rounds), op_times("cpu", args.rounds)
    print(f"profiler off, backend {deeplink.current_backend()}, torch {torch.__version__}, medians of {args.rounds}")
    print(f"{'op':<14}{'deeplink':>12}{'ATen CPU':>12}{'hook share of the deeplink op':>32}")
    for name in dl:
        print(f"{name:<14}{dl[name]:>9.2f} us{cpu[name]:>9.2f} us{hook / (dl[name] * 1000) * 100:>+30.4f}%")


if __name__ == "__main__":
    main()

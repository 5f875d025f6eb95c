"""`make bench`: one table, per backend and case, deeplink against the native reference of that
backend (ATen CPU for the cpu backend, ONNX Runtime's own session for onnxruntime, the emulator's
own time for ascend), small ops and the training step eager and compiled.

Each backend is one section module with `rows(rounds) -> list[timing.Row]`: bench_device.py (cpu),
bench_onnxruntime.py, bench_ascend.py when present (the Ascend emulator section), and
bench_plugins.py (C and Python kernels of plugins against the pass-through call). Each section
measures its cases in alternating rounds (timing.py); quote ratios from one run.

    python benchmarks/bench.py [--rounds 15] [--backends cpu,onnxruntime,ascend,plugins] [--no-compile]
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import Row, load  # noqa: E402

#: backend -> the module of its section (a missing module is reported, not an error).
SECTIONS = {"cpu": "bench_device", "onnxruntime": "bench_onnxruntime", "ascend": "bench_ascend",
            "plugins": "bench_plugins"}
#: Sections that measure kernels of their own (on backends they register), not an installed backend.
NOT_BACKENDS = frozenset({"plugins"})


def print_table(rows: list[Row], rounds: int, before: str = "") -> None:
    import deeplink
    print(f"deeplink {deeplink.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {rounds} alternating rounds (steps: of max(5, rounds/2)); {before or load()}")
    head = f"{'backend':<12} {'case':<24} {'native reference':<24} {'native':>10} {'deeplink':>10} {'ratio':>7} {'target':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = "  over" if r.over else ""
        print(f"{r.backend:<12} {r.case:<24} {r.reference:<24} {r.native:>8.2f}{r.unit} {r.deeplink:>8.2f}{r.unit} "
              f"{r.ratio:>6.2f}x {r.target_text():>7}{flag}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backends", default=",".join(SECTIONS))
    parser.add_argument("--no-compile", action="store_true", help="cpu backend: skip the Inductor-compiled step")
    args = parser.parse_args()
    import deeplink
    before = load()
    rows, missing = [], []
    for backend in args.backends.split(","):
        try:
            section = importlib.import_module(SECTIONS[backend])
        except ModuleNotFoundError as exc:
            missing.append(f"{backend}: {exc.name} not found")
            continue
        info = {b["name"]: b for b in deeplink.list_backends()}.get(backend)
        if backend not in NOT_BACKENDS and (info is None or not info["available"]):
            missing.append(f"{backend}: not available ({info['reason'] if info else 'not registered'})")
            continue
        kwargs = {"compiled": False} if backend == "cpu" and args.no_compile else {}
        # torch.compile(backend="deeplink") graphs of one backend must not serve another: the
        # compiled code is cached per model code, not per active deeplink backend.
        torch._dynamo.reset()
        rows += section.rows(args.rounds, **kwargs)
    print_table(rows, args.rounds, f"{before} before, {load()} after")
    for m in missing:
        print(f"(no {m})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

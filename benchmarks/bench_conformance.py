"""Conformance sweep speed: the full float32 OpInfo sweep on a deeplink backend (default: cpu,
--jobs 2) against the bare OpInfo loop on ATen CPU, measured in the same process run.

    python benchmarks/bench_conformance.py [--backend cpu] [--jobs 2] [--with-gradients]

The bare loop is what running PyTorch's OpInfo samples costs without any conformance machinery:
for every OpInfo with float32 CPU support, seed, draw its samples, keep at most 48 (as the golden
recorder did) and call the op on CPU. The sweep is `conformance run` end to end: loading and
checking the golden data, worker processes, the deeplink device, comparisons, blame, the results
file and all three reports. Target: sweep <= 3x the bare loop. The machine is shared, so the two
are timed back to back and the table shows the load average next to them.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings


def bare_opinfo_loop() -> dict:
    import torch
    from torch.testing._internal.common_methods_invocations import op_db

    from deeplink.conformance.opinfo_db import draw_samples, opinfo_key

    samples = errors = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in op_db:
            if torch.float32 not in op.supported_dtypes("cpu"):
                continue
            try:
                drawn = draw_samples(op, opinfo_key(op.name, op.variant_test_name), torch.float32,
                                     requires_grad=False)
            except Exception:  # noqa: BLE001
                continue
            for s in drawn:
                try:
                    op(s.input, *s.args, **s.kwargs)
                except Exception:  # noqa: BLE001
                    errors += 1
                samples += 1
    return {"seconds": time.perf_counter() - t0, "samples": samples, "errors": errors}


def sweep(backend: str, jobs: int, gradients: bool) -> dict:
    from deeplink.conformance.runner import RunOptions, run

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = run(RunOptions(backend=backend, out_dir=out, dtypes=["float32"], jobs=jobs, progress=False,
                              include_gradients=gradients, include_llm=False), log=lambda m: None)
        seconds = time.perf_counter() - t0
    s = done["report"]["summary"]
    return {"seconds": seconds, "cases": s["cases"]["total"], "by_status": s["cases"]["by_status"],
            "timings": s["timings"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="cpu")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--with-gradients", action="store_true", help="also time the sweep with gradient cases")
    args = p.parse_args()

    import torch
    from torch.testing._internal.common_methods_invocations import op_db  # noqa: F401  (import outside timing)

    if args.backend != "reference":
        import deeplink  # noqa: F401  (builds the C++ shim if this torch has not seen it: not the sweep's cost)

    load0 = os.getloadavg()[0]
    bare = bare_opinfo_loop()
    fwd = sweep(args.backend, args.jobs, gradients=False)
    rows = [("bare OpInfo loop, ATen CPU (draw + run)", bare["seconds"], bare["samples"], "1.00x"),
            (f"conformance run --backend {args.backend} --jobs {args.jobs} (forward)", fwd["seconds"], fwd["cases"],
             f"{fwd['seconds'] / bare['seconds']:.2f}x")]
    if args.with_gradients:
        both = sweep(args.backend, args.jobs, gradients=True)
        rows.append(("... with gradient cases", both["seconds"], both["cases"],
                     f"{both['seconds'] / bare['seconds']:.2f}x"))
    load1 = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, load average {load0:.1f} -> {load1:.1f}")
    print(f"{'what':<62} {'seconds':>8} {'samples':>8} {'ratio':>7}")
    for what, sec, n, ratio in rows:
        print(f"{what:<62} {sec:8.1f} {n:8d} {ratio:>7}")
    print(f"forward sweep statuses: {fwd['by_status']}; phases: {fwd['timings']}")
    print("target: forward sweep <= 3.00x the bare loop")


if __name__ == "__main__":
    main()

"""Command line: `deeplink conformance {run,record,diff,trace}` (wired into the `deeplink` CLI by
`add_conformance_parser`) and `python -m deeplink.conformance ...` on its own (`main`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run the conformance suite on a backend and write the reports",
                       description="Replay CUDA golden data (OpInfo samples and gradients) and the LLM-tier "
                                   "generators on a backend; write report.json, report.md and report.html.")
    p.add_argument("--backend", required=True,
                   help="deeplink backend name (see `deeplink info`), or 'reference' for plain ATen CPU tensors")
    p.add_argument("--dtypes", default="float32",
                   help="comma-separated dtypes (default float32; bfloat16/float16 need golden files recorded "
                        "on a GPU, else only the generated LLM-tier cases run)")
    p.add_argument("--ops", default=None, help="regex searched in OpInfo keys and generated aten overloads")
    p.add_argument("--out", default=None, help="output folder (default ./conformance-report; one run at a time "
                                              "per folder, a rerun resumes)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2; 0 = in this process, "
                                                      "no crash isolation)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it is a timeout")
    p.add_argument("--plugin", action="append", default=[],
                   help="module[:function] or file.py imported in every worker first (e.g. registers a "
                        "backend with deeplink.register_backend); repeatable")
    p.add_argument("--golden", action="append", default=[],
                   help="extra golden data: a folder written by `conformance record`, or one .pt.xz file")
    p.add_argument("--workload", action="append", default=[], help="extra workload file from `conformance trace`")
    p.add_argument("--no-llm", action="store_true", help="skip the generated LLM-tier cases")
    p.add_argument("--no-gradients", action="store_true", help="skip the gradient golden data")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the variants of golden samples and the generated cases (docs/conformance.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--cases", default=None, metavar="DIR",
                   help="replay the op calls `deeplink run --capture` saved in DIR instead of the suite "
                        "(conformance/replay.py); --ops filters them")
    p.add_argument("--case", action="append", default=[], metavar="ID",
                   help="run only this case (an id from report.json / report.html, e.g. "
                        "opinfo/fwd/float32/add/3), afresh, its dtype added to --dtypes; repeatable. "
                        "The report goes to --out (default ./conformance-repro)")
    p.add_argument("--junit", default=None, metavar="FILE", help="also write the cases as JUnit XML (for CI)")
    p.add_argument("--fail-under", action="append", default=[], metavar="TIER=PCT",
                   help="exit 1 when TIER's op coverage (all dtypes, percent) is below PCT, e.g. llm=100; "
                        "repeatable. Given, these thresholds decide the exit code instead of failing cases")
    p.add_argument("--memory-growth-mb", type=float, default=None, metavar="MB",
                   help="flag a case that grows its worker's memory by more than MB (default 256)")
    p.set_defaults(conformance_fn=_cmd_run)


def _add_record(sub) -> None:
    p = sub.add_parser("record", help="record golden data on this machine's device",
                       description="Record OpInfo golden outputs (or gradients) on a device, in the format "
                                   "conformance run reads. bf16/fp16 golden data needs a CUDA machine.")
    p.add_argument("--device", default="cuda", help="device to record on (default cuda; cpu to test the recorder)")
    p.add_argument("--out", required=True, help="output folder: golden_<dtype>.pt.xz, golden_grad_<dtype>.pt.xz "
                                                "and MANIFEST.json (use it with `run --golden FOLDER`)")
    p.add_argument("--dtypes", default="float32,bfloat16,float16",
                   help="comma-separated dtypes (default float32,bfloat16,float16)")
    p.add_argument("--kinds", default="forward,gradients", help="forward, gradients or both (default both)")
    p.add_argument("--ops", default=None, help="regex over OpInfo keys (default: all)")
    p.set_defaults(conformance_fn=_cmd_record)


def _add_diff(sub) -> None:
    p = sub.add_parser("diff", help="compare two report.json files; exit 1 on regressions",
                       description="Regressions (pass -> anything else) and fixes between two reports, per op "
                                   "and per sample. Exits 1 when there is a regression.")
    p.add_argument("before", help="report.json (or its folder) of the earlier run")
    p.add_argument("after", help="report.json (or its folder) of the later run")
    p.add_argument("--json", action="store_true", help="print the diff as JSON")
    p.set_defaults(conformance_fn=_cmd_diff)


def _add_trace(sub) -> None:
    p = sub.add_parser("trace", help="trace a model's aten ops into a workload file",
                       description="Trace one training step of a model (forward, backward, optional AdamW) "
                                   "and write its aten calls and FLOPs as a workload file for `run --workload`.")
    p.add_argument("--model", required=True, help="file.py:function or module:function returning (model, inputs)")
    p.add_argument("--out", required=True, help="workload JSON file (created, or a workload added to it)")
    p.add_argument("--name", default=None, help="workload name, 'model/precision' (default <function>/fp32)")
    p.add_argument("--device", default="cpu", help="device to trace on (default cpu)")
    p.add_argument("--no-backward", action="store_true", help="trace the forward pass only")
    p.add_argument("--optimizer", default=None, help="also trace one optimizer step: adamw")
    p.add_argument("--autocast", default=None, help="run the forward under torch.autocast with this dtype")
    p.set_defaults(conformance_fn=_cmd_trace)


def add_conformance_parser(subparsers) -> argparse.ArgumentParser:
    """Add `conformance` (with run / record / diff / trace) to an argparse subparsers object.
    The caller dispatches with `args.conformance_fn(args)` (or `run_parsed(args)`)."""
    p = subparsers.add_parser("conformance", help="conformance suite against CUDA golden data",
                              description="Coverage and correctness of a backend against real CUDA results.")
    sub = p.add_subparsers(dest="conformance_command", metavar="{run,record,diff,trace}")
    sub.required = True
    _add_run(sub)
    _add_record(sub)
    _add_diff(sub)
    _add_trace(sub)
    p.set_defaults(func=run_parsed)
    return p


# Exit codes of every conformance command (docs/conformance.md).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run_parsed(args: argparse.Namespace) -> int:
    """Dispatch; input errors (a message raised as SystemExit, a busy --out) exit 2, never with a
    traceback, so CI can tell "the backend regressed" (1) from "the command was wrong" (2)."""
    from .run_lock import FolderBusy  # noqa: PLC0415

    try:
        return int(args.conformance_fn(args) or 0)
    except FolderBusy as e:
        print(f"deeplink conformance: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code if e.code.startswith(("conformance", "deeplink")) else f"deeplink conformance: {e.code}",
                  file=sys.stderr)
            return EXIT_USAGE
        raise


def _resume_command() -> str:
    """The command line this process was started with, as a user would type it again."""
    import shlex  # noqa: PLC0415

    argv0 = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if argv0 == "deeplink":
        prog = ["deeplink"]
    elif sys.argv and Path(sys.argv[0]).parent.name == "conformance":
        prog = [sys.executable, "-m", "deeplink.conformance"]
    else:
        prog = [sys.executable, "-m", "deeplink"]
    return shlex.join(prog + sys.argv[1:])


class _Interrupts:
    """SIGINT and SIGTERM become one KeyboardInterrupt in the main thread (the runner stops the
    workers and reports what finished); a second signal during that cleanup is ignored."""

    def __init__(self):
        import signal  # noqa: PLC0415

        self.signal = signal
        self.received: int | None = None
        self.previous = {}

    def _handler(self, signum, frame):
        if self.received is None:
            self.received = signum
            raise KeyboardInterrupt

    def __enter__(self):
        for sig in (self.signal.SIGINT, self.signal.SIGTERM):
            self.previous[sig] = self.signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            self.signal.signal(sig, handler)

    def exit_code(self) -> int:
        return 128 + int(self.received or self.signal.SIGINT)


def _parse_fail_under(specs: list[str]) -> dict[str, float]:
    out = {}
    for spec in specs:
        tier, sep, value = spec.partition("=")
        try:
            out[tier.strip()] = float(value.rstrip("%"))
        except ValueError:
            sep = ""
        if not sep or not tier.strip():
            raise SystemExit(f"conformance run: --fail-under {spec!r}: expected TIER=PCT, e.g. llm=100 or core=85.5")
    return out


def gate(report: dict, fail_under: dict[str, float]) -> tuple[int, list[str]]:
    """The run's exit code and why: with thresholds, 1 when a tier's coverage is below its PCT;
    without, 1 when any case failed (mismatch, error, not_implemented, crash, timeout)."""
    from .statuses import FAILURES  # noqa: PLC0415

    s = report["summary"]
    if fail_under:
        coverage = s["op_coverage"]
        unknown = [t for t in fail_under if t not in coverage]
        if unknown:
            raise SystemExit(f"conformance run: --fail-under names unknown tier {unknown[0]!r}; "
                             f"tiers: {', '.join(coverage)}")
        below = [f"{t} op coverage {100 * coverage[t]['all_dtypes']['coverage']:.1f}% is below {pct:g}%"
                 for t, pct in fail_under.items() if 100 * coverage[t]["all_dtypes"]["coverage"] < pct - 1e-9]
        return (EXIT_FAILED if below else EXIT_OK), below
    failed = {k: v for k, v in s["cases"]["by_status"].items() if k in FAILURES and v}
    if failed:
        return EXIT_FAILED, ["failing cases: " + ", ".join(f"{k} {v}" for k, v in failed.items())]
    return EXIT_OK, []


def _dtypes_with_cases(dtypes: list[str], case_ids: list[str]) -> list[str]:
    """--case ids carry their dtype (source/kind/DTYPE/op/index): run in it without --dtypes."""
    out = list(dtypes) if not case_ids else []
    for cid in case_ids:
        parts = cid.split("/")
        if len(parts) >= 4 and parts[2] not in out:
            out.append(parts[2])
    return out or list(dtypes)


def _cmd_run(args) -> int:
    if args.cases:
        from .replay import run_replay  # noqa: PLC0415
        return run_replay(args.cases, args.backend, args.out, args.plugin, args.ops)
    from .report.markdown import pct  # noqa: PLC0415
    from .runner import RunInterrupted, RunOptions, run  # noqa: PLC0415

    fail_under = _parse_fail_under(args.fail_under)
    dtypes = _dtypes_with_cases([d.strip() for d in args.dtypes.split(",") if d.strip()], args.case)
    out = args.out if args.out is not None else ("conformance-repro" if args.case else "conformance-report")
    opts = RunOptions(backend=args.backend, out_dir=Path(out), dtypes=dtypes,
                      ops=None if args.case else args.ops, jobs=args.jobs, timeout_s=args.timeout,
                      plugins=args.plugin, golden=args.golden, workloads=args.workload,
                      include_llm=not args.no_llm, include_gradients=not args.no_gradients,
                      include_variants=not args.no_variants,
                      progress=not args.no_progress, case_ids=list(args.case), command=_resume_command())
    if args.memory_growth_mb is not None:
        opts.memory_growth_mb = args.memory_growth_mb
    interrupts = _Interrupts()
    try:
        with interrupts:
            done = run(opts)
    except RunInterrupted as e:
        name = interrupts.signal.Signals(interrupts.received or interrupts.signal.SIGINT).name
        print(f"deeplink conformance run: stopped by {name}: {e.finished} of {e.total} cases finished, results in "
              f"{e.results}; resume with: {opts.command}", file=sys.stderr)
        return interrupts.exit_code()
    except KeyboardInterrupt:        # while loading golden data or writing the reports
        name = interrupts.signal.Signals(interrupts.received or interrupts.signal.SIGINT).name
        print(f"deeplink conformance run: stopped by {name} outside the case loop; results so far (if any) in "
              f"{opts.out_dir / 'results.jsonl'}; resume with: {opts.command}", file=sys.stderr)
        return interrupts.exit_code()
    s = done["report"]["summary"]
    print("cases: " + ", ".join(f"{k} {v}" for k, v in s["cases"]["by_status"].items()))
    from .rollup import headline  # noqa: PLC0415

    for tier, c in s["op_coverage"].items():
        print(f"op coverage {tier}, all dtypes: {headline(c['all_dtypes'])} of {c['all_dtypes']['ops']} ops; "
              + ", ".join(f"{d}: {headline(c[d])}" for d in opts.dtypes))
    for name, w in s["workload_coverage"].items():
        print(f"workload {name}: {pct(w['calls_fraction'])} of calls, {pct(w['flops_fraction'])} of FLOPs")
    for kind, path in done["paths"].items():
        print(f"wrote {path}")
    if args.junit:
        from .report.junit import write_junit  # noqa: PLC0415

        print(f"wrote {write_junit(done['report'], Path(args.junit))}")
    code, reasons = gate(done["report"], fail_under)
    for reason in reasons:
        print(f"exit {code}: {reason}")
    return code


def _cmd_record(args) -> int:
    from .record import record_all_clean  # noqa: PLC0415

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ("forward", "gradients")]
    if bad:
        raise SystemExit(f"conformance record: unknown --kinds {bad}; use forward and/or gradients")
    # In a fresh interpreter: this one imported deeplink, which breaks native CUDA backward.
    entries = record_all_clean(args.device, args.out, [d.strip() for d in args.dtypes.split(",") if d.strip()],
                               kinds, args.ops)
    for e in entries:
        print(f"recorded {e['file']}: {e['opinfos']} OpInfos, {e['samples']} samples on {e['recorded_on']} "
              f"(sha256 {e['sha256'][:16]}...)")
    print(f"wrote {Path(args.out) / 'MANIFEST.json'}")
    return 0


def _cmd_diff(args) -> int:
    import json  # noqa: PLC0415

    from .diff import diff_reports, load_report, render_diff  # noqa: PLC0415

    d = diff_reports(load_report(args.before), load_report(args.after))
    print(json.dumps(d, indent=1) if args.json else render_diff(d, args.before, args.after))
    return EXIT_FAILED if d["regressions"] else EXIT_OK


def _cmd_trace(args) -> int:
    from .trace import load_model, trace_step, write_workload  # noqa: PLC0415

    model, inputs = load_model(args.model)
    traced = trace_step(model, inputs, args.device, backward=not args.no_backward, optimizer=args.optimizer,
                        autocast=args.autocast)
    precision = f"{args.autocast}-autocast".replace("bfloat16", "bf16").replace("float16", "fp16") \
        if args.autocast else "fp32"
    name = args.name or f"{args.model.rpartition(':')[2]}/{precision}"
    write_workload(args.out, name, traced, f"deeplink conformance trace --model {args.model} on {args.device}")
    n = sum(traced["calls"].values())
    print(f"traced {name}: {len(traced['calls'])} aten overloads, {n} calls, {traced['total_flops']} FLOPs -> {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deeplink.conformance",
                                     description="deeplink conformance suite")
    sub = parser.add_subparsers(dest="conformance_command", metavar="{run,record,diff,trace}")
    sub.required = True
    _add_run(sub)
    _add_record(sub)
    _add_diff(sub)
    _add_trace(sub)
    args = parser.parse_args(argv)
    return run_parsed(args)

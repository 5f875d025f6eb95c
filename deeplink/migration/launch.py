"""`deeplink run [OPTIONS] SCRIPT [ARGS...]` (also `python -m deeplink run`): run a program written
for CUDA, unmodified, on the deeplink device, optionally under the debugging kit (autocompare,
capture, op times, forced fallback) and under torchrun (--nproc-per-node).

The program runs in this process as `python SCRIPT ARGS` would run it (sys.argv, sys.path[0] and
`__main__` as there). The processes it starts inherit the mode through DEEPLINK_CUDA_COMPAT and a
start-up hook on PYTHONPATH (startup/sitecustomize.py), and the backend through DEEPLINK_BACKEND.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
from pathlib import Path

STARTUP_DIR = Path(__file__).resolve().parent / "startup"
#: Options of `deeplink run` that torchrun's workers get again (everything but the launch ones).
_LAUNCH_OPTIONS = ("nproc_per_node", "nnodes", "node_rank", "master_addr", "master_port")


def add_run_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run", help="run a program written for CUDA, unmodified, on the deeplink device",
        description="Run SCRIPT (written for CUDA) on the deeplink device: 'cuda' devices, .cuda(), torch.cuda.*, "
                    "torch.amp with 'cuda', GradScaler and init_process_group('nccl') address deeplink; CUDA-only "
                    "features (CUDA graphs, CUDA extensions, Triton) raise an error naming the call "
                    "(docs/migration.md). Debugging options: docs/debugging.md.")
    p.add_argument("--backend", default=None, help="deeplink backend to run on (default: DEEPLINK_BACKEND, else the best "
                                                   "available; see `deeplink info`)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE[:FUNCTION]|FILE.py",
                   help="import this first (e.g. a file that registers a backend with deeplink.register_backend); "
                        "repeatable")
    p.add_argument("--no-cuda-compat", action="store_true",
                   help="leave 'cuda' alone (for programs already written for deeplink: the debugging options only)")
    launch = p.add_argument_group("launching under torchrun")
    launch.add_argument("--nproc-per-node", type=int, default=None, metavar="N",
                        help="start N processes through torch.distributed.run (torchrun), each running SCRIPT here")
    launch.add_argument("--nnodes", default=None, help="torchrun --nnodes (default: one node, --standalone)")
    launch.add_argument("--node-rank", default=None, help="torchrun --node-rank")
    launch.add_argument("--master-addr", default=None, help="torchrun --master-addr")
    launch.add_argument("--master-port", default=None, help="torchrun --master-port")
    debug = p.add_argument_group("debugging kit (docs/debugging.md)")
    debug.add_argument("--autocompare", action="store_true",
                       help="run every op also on the CPU reference and report the first that diverges")
    debug.add_argument("--ops", default=None, metavar="REGEX",
                       help="autocompare only ops whose aten overload name matches (re.search)")
    debug.add_argument("--report", default=None, metavar="FILE", help="write the autocompare report (JSON) to FILE")
    debug.add_argument("--capture", default=None, metavar="REGEX",
                       help="save inputs and CPU reference outputs of matching op calls as conformance cases")
    debug.add_argument("--capture-dir", default="captured-ops", metavar="DIR",
                       help="where --capture writes (default ./captured-ops); replay with "
                            "`deeplink conformance run --cases DIR --backend B`")
    debug.add_argument("--capture-max-mb", type=float, default=16.0, metavar="MB",
                       help="largest case --capture saves (inputs and outputs together; default 16)")
    debug.add_argument("--op-times", action="store_true",
                       help="print calls, total and mean time per op and route (native/fallback) at exit")
    debug.add_argument("--op-times-json", default=None, metavar="FILE", help="also write the op times as JSON")
    debug.add_argument("--force-fallback", default=None, metavar="REGEX",
                       help="run matching ops on the CPU fallback (sets DEEPLINK_FORCE_FALLBACK)")
    p.add_argument("-m", dest="as_module", action="store_true", help="SCRIPT is a module name, as in python -m")
    p.add_argument("script", help="the program (a .py file, or a module with -m)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    p.set_defaults(fn=cmd_run)
    return p


def cmd_run(args) -> int:
    if (args.ops or args.report) and not args.autocompare:
        raise SystemExit("deeplink run: --ops and --report go with --autocompare")
    if args.nproc_per_node:
        return _torchrun(args)
    return run_program(args)


# ---------------------------------------------------------------- one process
def _rank_path(path: str | None, suffix_dir: bool = False) -> str | None:
    """Per-rank output paths when running as one of several torchrun workers."""
    if path is None or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return path
    rank = os.environ.get("RANK", "0")
    if suffix_dir:
        return str(Path(path) / f"rank{rank}")
    p = Path(path)
    return str(p.with_name(f"{p.stem}.rank{rank}{p.suffix}"))


def _pass_on_to_children(backend: str) -> None:
    from deeplink import registry
    if registry.get(backend).source != "register_backend()":
        os.environ["DEEPLINK_BACKEND"] = backend  # a backend registered at run time is unknown to children
    from .mode import ENV_FLAG
    os.environ[ENV_FLAG] = "1"
    path = os.environ.get("PYTHONPATH", "")
    if str(STARTUP_DIR) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([str(STARTUP_DIR)] + ([path] if path else []))


def run_program(args) -> int:
    if args.backend and not args.plugin:
        os.environ["DEEPLINK_BACKEND"] = args.backend
    if args.force_fallback:
        os.environ["DEEPLINK_FORCE_FALLBACK"] = args.force_fallback
    import deeplink
    if args.plugin:
        from deeplink.conformance.targets import load_plugin
        for spec in args.plugin:
            load_plugin(spec)
    if args.backend and deeplink.current_backend() != args.backend:
        deeplink.use(args.backend)
    if args.force_fallback:
        deeplink.set_force_fallback(args.force_fallback)
    if not args.no_cuda_compat:
        _pass_on_to_children(deeplink.current_backend())
        import deeplink.cuda_compat
        deeplink.cuda_compat.enable()
    tools = _debug_tools(args)
    try:
        with contextlib.ExitStack() as stack:
            for tool in tools.values():
                stack.enter_context(tool)
            _run_target(args.script, args.args, args.as_module)
    finally:
        _report(tools, args)
    return 0


def _debug_tools(args) -> dict:
    """The kit's dispatch modes, in the order they are entered: the last one sees each op first, so
    op times go last (the others' reference work is not timed as ops of its own)."""
    tools = {}
    if args.autocompare:
        from deeplink.debug import Autocompare
        tools["autocompare"] = Autocompare(args.ops)
    if args.capture:
        from deeplink.debug import Capture
        tools["capture"] = Capture(args.capture, _rank_path(args.capture_dir, suffix_dir=True), args.capture_max_mb)
    if args.op_times or args.op_times_json:
        from deeplink.debug import OpTimes
        tools["op_times"] = OpTimes()
    return tools


def _report(tools: dict, args) -> None:
    if "autocompare" in tools:
        ac = tools["autocompare"]
        report = ac.report()
        print(ac.summary(report), file=sys.stderr)
        path = _rank_path(args.report)
        if path:
            Path(path).write_text(json.dumps(report, indent=1, default=str))
            print(f"autocompare report: {path}", file=sys.stderr)
    if "capture" in tools:
        print(tools["capture"].summary(), file=sys.stderr)
    if "op_times" in tools:
        print(tools["op_times"].table(), file=sys.stderr)
        path = _rank_path(args.op_times_json)
        if path:
            Path(path).write_text(json.dumps(tools["op_times"].to_json(), indent=1))


def _run_target(script: str, argv: list[str], as_module: bool) -> None:
    """Run SCRIPT as `python SCRIPT ARGV` (or `python -m SCRIPT ARGV`) would."""
    if as_module:
        sys.argv = [script, *argv]
        sys.path[0] = os.getcwd()
        runpy.run_module(script, run_name="__main__", alter_sys=True)
        return
    path = Path(script)
    if not path.is_file():
        raise SystemExit(f"deeplink run: {script}: no such file")
    sys.argv = [script, *argv]
    sys.path[0] = str(path.resolve().parent)
    runpy.run_path(script, run_name="__main__")


# ---------------------------------------------------------------- several processes
def worker_arguments(args) -> list[str]:
    """The `deeplink run` options a torchrun worker gets: all but the launch ones."""
    out = []
    for action_dest, flag in (("backend", "--backend"), ("ops", "--ops"), ("report", "--report"),
                              ("capture", "--capture"), ("capture_dir", "--capture-dir"),
                              ("capture_max_mb", "--capture-max-mb"), ("op_times_json", "--op-times-json"),
                              ("force_fallback", "--force-fallback")):
        value = getattr(args, action_dest)
        if value is not None and not (action_dest == "capture_dir" and not args.capture):
            out += [flag, str(value)]
    for spec in args.plugin:
        out += ["--plugin", spec]
    for dest, flag in (("no_cuda_compat", "--no-cuda-compat"), ("autocompare", "--autocompare"),
                       ("op_times", "--op-times"), ("as_module", "-m")):
        if getattr(args, dest):
            out.append(flag)
    return out


def _torchrun(args) -> int:
    from torch.distributed import run as torchrun
    # The cpu backend needs a device per local rank (scripts call torch.cuda.set_device(local_rank)).
    os.environ.setdefault("DEEPLINK_CPU_DEVICES", str(max(2, args.nproc_per_node)))
    if args.backend and not args.plugin:
        os.environ["DEEPLINK_BACKEND"] = args.backend
    launch = ["--nproc-per-node", str(args.nproc_per_node)]
    if args.nnodes:
        launch += ["--nnodes", args.nnodes]
    else:
        launch.append("--standalone")
    for dest in ("node_rank", "master_addr", "master_port"):
        if getattr(args, dest):
            launch += [f"--{dest.replace('_', '-')}", getattr(args, dest)]
    torchrun.main(launch + ["-m", "deeplink", "run", *worker_arguments(args), args.script, *args.args])
    return 0

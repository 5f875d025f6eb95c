"""The `deeplink` command.

    deeplink info [--json]                 backends found, availability and why not, kernel counts per tier,
                                           collective library
    deeplink ops [--tier T] [--backend B] [--json]
    deeplink demo [--model llama|gpt2] [--steps N] [--backend B]
    deeplink conformance run|record|diff|trace ...
    deeplink new-backend NAME --out DIR
    deeplink test-backend NAME [--plugin MODULE:FUNCTION] [-- PYTEST ARGS]
    deeplink run [--backend B] [--nproc-per-node N] [--autocompare] [--capture REGEX] [--op-times] SCRIPT [ARGS...]
    deeplink --version
    deeplink build [--force]               compile the C++ shim and distributed extension now (else first use does)
    deeplink doctor                        what this machine lacks for deeplink, one line each
"""
from __future__ import annotations

import argparse
import functools
import json
import sys


def _deeplink():
    import deeplink
    return deeplink


# ---------------------------------------------------------------- info
def tier_counts(backend: str) -> dict:
    """{tier: {status: n}} of how `backend` runs each tier's ops."""
    dl = _deeplink()
    from deeplink.opset import TIERS, load_opset
    opset = load_opset()
    out = {}
    for tier in TIERS:
        counts = {"native": 0, "decomposed": 0, "fallback": 0, "missing": 0}
        for e in opset.tier(tier):
            counts[dl.route_of(e.name, backend=backend)] += 1
        out[tier] = counts
    return out


def cmd_info(args) -> int:
    dl = _deeplink()
    import torch
    backends = dl.list_backends()
    for b in backends:
        if b["available"]:
            rec = dl._registry.get(b["name"])
            try:
                b["ops"] = tier_counts(b["name"])
                b["collectives"] = rec.call("collectives()", dl.distributed.backend_collectives, b["name"])
            except dl._registry.BackendFailed:  # its kernels() or collectives() raised: now unavailable, say why
                b.update(available=False, reason=rec.reason)
    info = {"deeplink": dl.__version__, "torch": torch.__version__, "active_backend": dl.current_backend(),
            "fallback_mode": dl.fallback_mode(), "devices": torch.deeplink.device_count(), "backends": backends}
    if args.ranks:
        info["group_plan"] = dl.distributed.plan(args.ranks.split(","))
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"deeplink {info['deeplink']} on torch {info['torch']}; active backend: {info['active_backend']} "
          f"({info['devices']} device(s)); fallback mode: {info['fallback_mode']}")
    for b in backends:
        mark = "*" if b["active"] else " "
        state = "available" if b["available"] else "unavailable"
        print(f"{mark} {b['name']:<14} {state:<12} v{b['version']}  {b['description']}")
        if not b["available"]:
            print(f"    why: {b['reason']}")
        print(f"    from: {b['source']}; verified on: {b['verified_on']}")
        for k, v in b["details"].items():
            if k != "traceback":
                print(f"    {k}: {v}")
        for tier, c in b.get("ops", {}).items():
            total = sum(c.values())
            print(f"    {tier:<5} {c['native']}/{total} native, {c['decomposed']} decomposed, "
                  f"{c['fallback']} fallback, {c['missing']} missing")
        if "collectives" in b:
            print(f"    collectives: {b['collectives']['description']}")
    print("torch.distributed: init_process_group(\"deeplink\") (default for the deeplink device); ranks whose "
          "backends' collective libraries differ meet in gloo, staging through host memory (docs/distributed.md)")
    if args.ranks:
        group = info["group_plan"]
        print(f"a process group of ranks {args.ranks} runs collectives on {group['library']}:")
        for r, rank in enumerate(group["ranks"]):
            print(f"    rank {r}  {rank['backend']:<14} {rank['path']}")
    return 0


# ---------------------------------------------------------------- ops
def cmd_ops(args) -> int:
    dl = _deeplink()
    from deeplink.opset.listing import run_ops_command
    name = args.backend or dl.current_backend()
    dl._registry.get(name)  # unknown names fail with the list of known ones
    return run_ops_command(args, {name: functools.partial(dl.route_of, backend=name)})


# ---------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    dl = _deeplink()
    import time
    import torch
    from deeplink.models import tiny_model
    if args.backend:
        dl.use(args.backend)
    model = tiny_model(args.model, hidden=128, layers=2).to("deeplink")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 128, (4, 64), generator=torch.Generator().manual_seed(0)).to("deeplink")
    dl.reset_op_stats()
    print(f"training a tiny {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters) on "
          f"deeplink, backend '{dl.current_backend()}', fallback mode '{dl.fallback_mode()}'")
    for step in range(args.steps):
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        print(f"  step {step + 1}/{args.steps}: loss {loss.item():.4f} ({(time.perf_counter() - t0) * 1000:.0f} ms)")
    stats = dl.op_stats()
    native = sum(s["native"] for s in stats.values())
    decomposed = sum(s["decomposed"] for s in stats.values())
    fallbacks = dl.fallback_stats()
    print(f"backend '{dl.current_backend()}' ran {native} op calls natively over {len(stats)} distinct ops, "
          f"{decomposed} decomposed, {sum(fallbacks.values())} fell back to the CPU"
          + (f": {fallbacks}" if fallbacks else ""))
    return 0


# ---------------------------------------------------------------- test-backend
def cmd_test_backend(args) -> int:
    from deeplink.contract import run
    return run([args.name], args.plugin, args.pytest_args)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("deeplink")
    except PackageNotFoundError:  # a checkout used without pip install
        return _deeplink().__version__


# ---------------------------------------------------------------- build, doctor
def cmd_build(args) -> int:
    from deeplink import _build
    for ext in (_build.SHIM, _build.DISTRIBUTED):
        what = "shim" if ext == _build.SHIM else f"{ext.folder} extension"
        folder = _build.build_dir(ext)
        if not args.force and _build.validate(folder, ext) is None:
            print(f"deeplink: the {what} is already built: {folder} (--force rebuilds it)")
            continue
        try:
            _build.build(folder, ext=ext, force=args.force)
        except _build.ShimBuildError as e:
            print(f"deeplink build: {e}", file=sys.stderr)
            return 1
        print(f"deeplink: {what} ready: {folder}")
    return 0


def cmd_doctor(args) -> int:
    from deeplink.doctor import run
    return run()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="deeplink", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"deeplink {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="backends found on this machine")
    p.add_argument("--ranks", default="", metavar="B0,B1,...",
                   help="also show the collective path each rank of a group on these backends would take")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_info)
    from deeplink.opset.listing import add_ops_arguments
    p = add_ops_arguments(sub.add_parser("ops", help="ops of a tier and how a backend runs them"))
    p.set_defaults(fn=cmd_ops)
    p = sub.add_parser("build", help="compile the C++ shim and distributed extension ahead of time, with progress")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid build is cached")
    p.set_defaults(fn=cmd_build)
    p = sub.add_parser("doctor", help="what this machine lacks for deeplink (compiler, ninja, headers, extras)")
    p.set_defaults(fn=cmd_doctor)
    p = sub.add_parser("demo", help="train a tiny model on the deeplink device")
    p.add_argument("--model", choices=["llama", "gpt2"], default="llama")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--backend", default=None)
    p.set_defaults(fn=cmd_demo)
    try:
        from deeplink.conformance.cli import add_conformance_parser
        add_conformance_parser(sub)
    except ImportError:
        pass
    try:
        from deeplink.scaffold import add_new_backend_parser
        add_new_backend_parser(sub)
    except ImportError:
        pass
    p = sub.add_parser("test-backend", help="run the backend contract suite against one backend",
                       description="Run deeplink's backend contract suite (runtime, device, kernels) against backend "
                                   "NAME. Arguments after -- go to pytest (e.g. -- -x -k streams).")
    p.add_argument("name", help="backend name, as `deeplink info` lists it")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE:FUNCTION",
                   help="call this first (e.g. to register a backend that is not installed as an entry point)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(fn=cmd_test_backend)
    from deeplink.migration.launch import add_run_parser
    add_run_parser(sub)
    args = parser.parse_args(argv)
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    handler = getattr(args, "fn", None) or getattr(args, "func")
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

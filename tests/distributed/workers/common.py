"""Shared start-up of the worker scripts that tests/distributed runs under torchrun.

    --backend NAME        deeplink backend of every rank; "a,b,c" gives rank i the i-th (mixed jobs)
    --plugin MOD:FN       call FN() first on every rank (registers a test or emulated backend)
    --init MODE           "deeplink" (default), "none" (init_process_group() with no backend), or a
                          device map such as "cpu:gloo,deeplink:deeplink"
    --timeout SECONDS     process-group timeout (default 60: a broken test fails, it does not hang)
    --out DIR             where each rank writes rank<R>.json (and whatever else the script writes)
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
for p in (str(TESTS), str(TESTS.parent)):  # tests/ (ascend_emulator, device helpers), the repo root
    if p not in sys.path:
        sys.path.insert(0, p)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default="cpu")
    p.add_argument("--plugin", action="append", default=[])
    p.add_argument("--init", default="deeplink")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--out", required=True)
    return p


def rank() -> int:
    return int(os.environ.get("RANK", 0))


def backend_for_rank(spec: str, r: int) -> str:
    names = spec.split(",")
    return names[r % len(names)]


def start(args):
    """Import deeplink, register plugins, pick this rank's backend, init the default group."""
    import torch.distributed as dist

    import deeplink
    for target in args.plugin:
        module, _, fn = target.partition(":")
        getattr(importlib.import_module(module), fn)()
    deeplink.use(backend_for_rank(args.backend, rank()))
    backend = None if args.init == "none" else args.init
    dist.init_process_group(backend, timeout=timedelta(seconds=args.timeout))
    return dist.get_rank(), dist.get_world_size()


def write(args, payload: dict, name: str | None = None) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / (name or f"rank{rank()}.json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    os.replace(tmp, path)

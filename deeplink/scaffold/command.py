"""The `deeplink new-backend` command (wired into deeplink/cli.py by add_new_backend_parser)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_new_backend_parser(subparsers) -> argparse.ArgumentParser:
    """Add `new-backend NAME [--out DIR] [--force]` to an argparse subparsers object. The parser's
    `func` default is new_backend_command(args) -> exit status."""
    p = subparsers.add_parser(
        "new-backend", help="write a new vendor-backend plugin package",
        description="Write a working deeplink backend plugin package (entry point, host-memory runtime, "
                    "kernels in Python and C, README, tests) into DIR. Install it with "
                    "`pip install --no-build-isolation DIR`.")
    p.add_argument("name", metavar="NAME", help="backend name: lowercase Python identifier, e.g. myaccel")
    p.add_argument("--out", metavar="DIR", help="directory to write (default: ./deeplink-NAME); must be empty "
                                                "or new unless --force")
    p.add_argument("--force", action="store_true", help="write into a non-empty DIR, overwriting generated files")
    p.set_defaults(func=new_backend_command)
    return p


def new_backend_command(args) -> int:
    from .generate import TargetNotEmpty, generate
    from .names import InvalidBackendName
    out = Path(args.out) if args.out else Path(f"deeplink-{args.name}")
    try:
        files = generate(args.name, out, force=args.force)
    except (InvalidBackendName, TargetNotEmpty) as e:
        print(f"deeplink new-backend: {e}", file=sys.stderr)
        return 2
    print(f"wrote backend plugin {args.name!r} to {out} ({len(files)} files). Next:\n"
          f"  pip install --no-build-isolation {out}\n"
          f"  deeplink info\n"
          f"  python -c \"import torch, deeplink; deeplink.use('{args.name}'); "
          f"print((torch.ones(3, device='deeplink') + 1).cpu())\"\n"
          f"  python -m pytest {out / 'tests'}")
    return 0

"""`deeplink ops [--tier T] [--backend B] [--json]`: the ops of a tier and how each backend runs them.

The CLI owns the parser and knows the dispatcher; this module only needs, per backend, a callable
`status_of(op_name) -> "native" | "decomposed" | "fallback" | "missing"`:

    add_ops_arguments(sub.add_parser("ops", help=...))
    ...
    name = args.backend or deeplink.current_backend()
    return run_ops_command(args, {name: functools.partial(deeplink.route_of, backend=name)})

A mapping with several backends gives one status column each; a bare callable is labelled with
`args.backend` (or "active").
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Mapping, TextIO, Union

from ..dtypes import short_name
from .model import OpSet
from .tiers import ALL, TIERS

STATUSES = ("native", "decomposed", "fallback", "missing")
JSON_SCHEMA_VERSION = 1

StatusOf = Callable[[str], str]
StatusSource = Union[StatusOf, Mapping[str, StatusOf]]


def add_ops_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--tier", choices=[*TIERS, ALL], default=ALL,
                        help="llm: ops of real LLM training steps on CUDA; core: Core ATen (`core` "
                             "tag); cuda: functional ops with a CUDA kernel; all: their union (default)")
    parser.add_argument("--backend", default=None,
                        help="backend whose status to show (default: the active backend)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _status(fn: StatusOf, op: str, backend: str) -> str:
    try:
        status = fn(op)
    except Exception as e:
        raise RuntimeError(f"deeplink ops: asking backend {backend!r} how it runs {op} failed: "
                           f"{type(e).__name__}: {e}") from e
    if status not in STATUSES:
        raise ValueError(f"deeplink ops: backend {backend!r} reported status {status!r} for {op}; "
                         f"expected one of {', '.join(STATUSES)}")
    return status


WidenedOf = Callable[[str], dict]


def collect_ops(opset: OpSet, tier: str, status_of: Mapping[str, StatusOf],
                widened_of: Mapping[str, WidenedOf] | None = None) -> dict:
    """The listing as a JSON-ready dict (what `--json` prints). `widened_of`, per backend, gives
    an op's {dtype its kernel lacks: dtype it computes in} (native, computed wider)."""
    entries = opset.tier(tier)
    backends = list(status_of)
    totals = {b: dict.fromkeys(STATUSES, 0) for b in backends}
    ops = []
    for e in entries:
        statuses = {b: _status(fn, e.name, b) for b, fn in status_of.items()}
        for b, s in statuses.items():
            totals[b][s] += 1
        entry = {"op": e.name, "schema": e.schema, "kind": e.kind, "tags": list(e.tags),
                 "tiers": list(e.tiers), "cuda_kernel": e.cuda_kernel,
                 "cuda_kernel_source": e.cuda_kernel_source, "composite": e.composite,
                 "cuda_dtypes": list(e.cuda_dtypes) if e.cuda_dtypes is not None else "unknown",
                 "status": statuses}
        widened = {b: {short_name(k): short_name(v) for k, v in fn(e.name).items()}
                   for b, fn in (widened_of or {}).items() if statuses.get(b) == "native"}
        if any(widened.values()):
            entry["widened"] = {b: w for b, w in widened.items() if w}
        ops.append(entry)
    listed = {e.name for e in entries}
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "tier": tier,
        "torch_version": opset.torch_version,
        "backends": backends,
        "count": len(ops),
        "totals": totals,
        "ops": ops,
        "disagreements": [d.to_dict() for d in opset.disagreements if d.op in listed],
    }


def _cuda_column(op: dict) -> str:
    """How CUDA runs it: its own kernel, a composite (decomposes or calls other ops), or neither."""
    return "kernel" if op["cuda_kernel"] else "composite" if op["composite"] else "-"


def render_table(doc: dict) -> str:
    """The listing for people: one row per op, then totals per backend and status."""
    backends = doc["backends"]
    op_width = max([len("OP")] + [len(o["op"]) for o in doc["ops"]])
    tier_width = len("core,cuda,llm")
    widths = [max(len(b), len("decomposed")) for b in backends]
    header = (f"{'OP':<{op_width}}  {'KIND':<10}  {'TIERS':<{tier_width}}  {'CUDA':<9}  "
              + "  ".join(f"{b:<{w}}" for b, w in zip(backends, widths)))
    lines = [f"# deeplink ops: tier {doc['tier']}, {doc['count']} ops, torch {doc['torch_version']}",
             header.rstrip()]
    for o in doc["ops"]:
        cells = "  ".join(f"{o['status'][b]:<{w}}" for b, w in zip(backends, widths))
        lines.append(f"{o['op']:<{op_width}}  {o['kind']:<10}  {','.join(o['tiers']):<{tier_width}}  "
                     f"{_cuda_column(o):<9}  {cells}".rstrip())
    lines.append("")
    for b in backends:
        counts = ", ".join(f"{s} {doc['totals'][b][s]}" for s in STATUSES)
        native = doc["totals"][b]["native"]
        share = f" ({100.0 * native / doc['count']:.1f}% native)" if doc["count"] else ""
        lines.append(f"totals {b}: {counts}{share}")
    widened = [(o["op"], b, w) for o in doc["ops"] for b, w in o.get("widened", {}).items()]
    if widened:
        lines.append(f"computed in a wider dtype (the backend's ATen kernel lacks the dtype, CUDA has it; results are "
                     f"cast back): {len(widened)} ops")
        for op, b, w in widened:
            pairs = ", ".join(f"{src}->{dst}" for src, dst in w.items())
            lines.append(f"  {b}: {op}: {pairs}")
    if doc["disagreements"]:
        lines.append(f"note: for {len(doc['disagreements'])} listed ops the torch wheel's yaml disagrees "
                     f"with the CUDA reference data (see --json): "
                     + ", ".join(d["op"] for d in doc["disagreements"][:8])
                     + (" ..." if len(doc["disagreements"]) > 8 else ""))
    return "\n".join(lines) + "\n"


def run_ops_command(args: argparse.Namespace, status_of: StatusSource, *,
                    out: TextIO | None = None, opset: OpSet | None = None,
                    widened_of: Mapping[str, WidenedOf] | None = None) -> int:
    """Print the listing for parsed `args`; `status_of` is one callable or {backend name: callable};
    `widened_of` (optional) the same for the dtypes each op computes wider."""
    if opset is None:
        from .cache import load_opset
        opset = load_opset()
    sources = dict(status_of) if isinstance(status_of, Mapping) else \
        {getattr(args, "backend", None) or "active": status_of}
    doc = collect_ops(opset, getattr(args, "tier", ALL), sources, widened_of)
    out = out or sys.stdout
    if getattr(args, "json", False):
        json.dump(doc, out, indent=1)
        out.write("\n")
    else:
        out.write(render_table(doc))
    return 0

"""How much of CUDA's dtype support the cpu backend runs natively, measured in one run.

For every op of the CUDA tier (deeplink.opset) that an OpInfo covers, and every dtype that
OpInfo's CUDA dtypes list, the first samples run (1) on plain CPU tensors, which is what the cpu
backend's ATen pass-through alone can do, and (2) on the deeplink device with the cpu backend and
DEEPLINK_FALLBACK=error, which adds the widened dtypes (backends/cpu/ops/upcast.py). An op counts
when every CUDA dtype of its OpInfos runs. Prints both counts and the ops still short.

    python scripts/cpu_dtype_coverage.py [--samples 2] [--ops REGEX]
"""
from __future__ import annotations

import argparse
import re
import warnings

import torch

import deeplink
from deeplink.opset import load_opset
from deeplink.opset.cuda_dtypes import _candidate_bases  # the OpInfo -> aten packet naming rules


def _runs(op, device: str, dtype, samples: int) -> bool:
    try:
        for i, s in enumerate(op.sample_inputs(device, dtype)):
            if i >= samples:
                break
            op(s.input, *s.args, **s.kwargs)
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--ops", default="", help="only packets matching this regex")
    args = parser.parse_args()
    from torch.testing._internal.common_methods_invocations import op_db
    warnings.simplefilter("ignore")
    deeplink.use("cpu")
    deeplink.set_fallback_mode("error")
    packets = {e.name.split(".")[0] for e in load_opset().tier("cuda")}
    by_packet: dict[str, list] = {}
    for op in op_db:
        info = {"name": op.name, "aten_name": op.aten_name, "variant": op.variant_test_name}
        base = next((b for b in _candidate_bases(info) if b in packets), None)
        if base and re.search(args.ops, base):
            by_packet.setdefault(base, []).append(op)
    aten_ok, deeplink_ok, short = 0, 0, {}
    for packet, ops in sorted(by_packet.items()):
        missing_aten, missing_dl = [], []
        for op in ops:
            for dtype in sorted(op.dtypesIfCUDA, key=str):
                if not _runs(op, "cpu", dtype, args.samples):
                    missing_aten.append(dtype)
                if not _runs(op, "deeplink", dtype, args.samples):
                    missing_dl.append(dtype)
        aten_ok += not missing_aten
        deeplink_ok += not missing_dl
        if missing_dl:
            short[packet] = sorted({str(d).replace("torch.", "") for d in missing_dl})
    n = len(by_packet)
    print(f"ops of the CUDA tier with OpInfo coverage: {n} (torch {torch.__version__}, {args.samples} samples per dtype)")
    print(f"  every CUDA dtype runs on ATen CPU (the cpu backend's pass-through alone): {aten_ok} ({100 * aten_ok / n:.1f}%)")
    print(f"  every CUDA dtype runs natively on deeplink's cpu backend:                {deeplink_ok} ({100 * deeplink_ok / n:.1f}%)")
    print(f"still short on deeplink ({len(short)}):")
    for packet, dtypes in short.items():
        print(f"  {packet}: {', '.join(dtypes)}")


if __name__ == "__main__":
    main()

"""The Ascend kernel table: every entry of the op table (ops/table.py) whose aclnn operators this
CANN install exports, as a PythonKernel that the op runner (ops/runner.py) launches. Entries the
install lacks are left out, so the dispatcher decomposes or falls back for them."""
from __future__ import annotations

import os

from deeplink.kernel_table import KernelTable
from deeplink.kernels import PythonKernel
from deeplink.opset.names import exists

#: "1" lets fp32 matmuls use HF32 (faster, ~10 mantissa bits) instead of exact fp32.
ALLOW_HF32_VARIABLE = "DEEPLINK_ASCEND_ALLOW_HF32"


def ascend_kernels(state) -> KernelTable:
    from .ops.runner import DeeplinkContext, Runner
    from .ops.table import OPS

    runner = Runner(state.api, DeeplinkContext(state.runtime),
                    allow_hf32=os.environ.get(ALLOW_HF32_VARIABLE) == "1")
    table = KernelTable("ascend")
    for op in OPS:
        lacking = [f for f in op.aclnn_functions if not state.api.has(f)]
        if lacking:  # the dispatcher decomposes or falls back
            table.skipped[op.aten] = "this CANN lacks " + ", ".join(lacking)
            continue
        if not exists(op.aten):
            table.skipped[op.aten] = "this torch has no such overload"
            continue
        impl = ", ".join(op.aclnn_functions) or "composite"
        table.add(op.aten, PythonKernel(runner.kernel(op), op.dtypes, impl))
    return table

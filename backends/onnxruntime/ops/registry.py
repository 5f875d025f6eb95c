"""The table of aten overloads this backend runs natively, filled by the `ops/*.py` modules through
deeplink's kernel-table API (deeplink/kernel_table.py). Each entry is a PythonKernel: the function
takes the aten schema's arguments, `dtypes` lists the tensor dtypes it accepts (anything else is
"not native" and takes the dispatcher's fallback path), `impl` names the ONNX operators it lowers
to (shown by `deeplink ops`)."""
from __future__ import annotations

from deeplink.dtypes import ALL, BOOL, FLOATS, FLOATS_NO_F64, INDEX, INTS  # noqa: F401 (the ops modules' vocabulary)
from deeplink.kernel_table import KernelTable

TABLE = KernelTable("onnxruntime")


def kernel(*names: str, dtypes=ALL, impl: str = ""):
    """Register the decorated function for each aten overload in `names` (any dtype of ALL unless
    `dtypes` says otherwise)."""
    return TABLE.kernel(*names, dtypes=dtypes, impl=impl)

"""Kernels of the onnxruntime backend, one module per op family; importing this package fills
`registry.TABLE` (aten overload name -> deeplink PythonKernel)."""
from . import (activation, attention, binary, conv, copy, factory, foreach,  # noqa: F401
               index, loss, matmul, movement, norm, pool, random, reduce, softmax, unary)
from . import complex  # noqa: F401,E402  (wraps kernels registered above)
from . import out_variants  # noqa: F401,E402  (last: adds out= forms of all of them)
from .registry import TABLE

__all__ = ["TABLE"]

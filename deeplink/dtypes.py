"""Named dtype sets, one definition each, for kernel tables and tests.

Names say exactly what is in a set: FLOATS has every real floating dtype (float64 included);
sets without a member say so in their name (FLOATS_NO_F64). Kernels pass these as `dtypes=`.
"""
from __future__ import annotations

import torch

F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64

#: The two 16-bit floats (what autocast computes in).
HALFS = frozenset({F16, BF16})
#: Every real floating dtype deeplink handles.
FLOATS = frozenset({F16, BF16, F32, F64})
#: Floats without double (most accelerators, and ONNX Runtime's CPU kernels for many ops, lack it).
FLOATS_NO_F64 = frozenset({F16, BF16, F32})
COMPLEX = frozenset({torch.complex64, torch.complex128})
#: Integer dtypes with kernels in ATen (unsigned beyond uint8 are storage-only there).
INTS = frozenset({torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64})
#: Dtypes of index tensors (gather, index_select, embedding, ...).
INDEX = frozenset({torch.int32, torch.int64})
BOOL = frozenset({torch.bool})
NUMERIC = FLOATS | INTS
ALL = NUMERIC | BOOL
#: Dtypes a kernel's `dtypes` restriction is checked against even when the kernel lists no
#: integer dtype (integer index/RNG-state tensors ride along with float kernels).
COMPUTE = FLOATS | COMPLEX

#: c10::ScalarType numbering (index = enum value), e.g. for dtype bit masks coming from C++.
SCALAR_TYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.float32,
                torch.float64, torch.complex32, torch.complex64, torch.complex128, torch.bool, torch.qint8,
                torch.quint8, torch.qint32, torch.bfloat16)


def short_name(dtype: torch.dtype) -> str:
    """`torch.float32` -> "float32"."""
    return str(dtype).replace("torch.", "")


_ATEN_NAMES = {torch.float32: "Float", torch.float64: "Double", torch.float16: "Half", torch.bfloat16: "BFloat16",
               torch.int64: "Long", torch.int32: "Int", torch.int16: "Short", torch.int8: "Char", torch.uint8: "Byte",
               torch.bool: "Bool", torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble",
               torch.complex32: "ComplexHalf"}


def aten_name(dtype: torch.dtype) -> str:
    """The name ATen's own error messages use (c10::toString): `torch.float32` -> "Float"."""
    return _ATEN_NAMES.get(dtype, short_name(dtype))

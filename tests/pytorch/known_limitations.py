"""Device-generic tests that pass on cpu but cannot pass on deeplink, each with the reason: the
PyTorch limitation behind it and its upstream issue, or the deeplink gap it is.
scripts/test_pytorch.py matches these patterns (regular expressions) against "<module>::<Class>::<test name without the device suffix>"."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    pattern: str
    reason: str
    upstream: str


KNOWN: list[Known] = [
    Known(r"test_opinfo_consistency::test_noncontiguous_matches_contiguous_to_sparse_",
          "deeplink has no sparse layouts: to_sparse on a deeplink tensor raises NotImplementedError naming "
          "the op and the layout (csrc/shim/layouts.cpp); keep sparse tensors on the CPU",
          "no PyTorch limitation: a deeplink gap"),
]

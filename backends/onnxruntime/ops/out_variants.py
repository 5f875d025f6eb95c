"""`out=` overloads (add.out, sum.IntList_out, arange.start_out, ...) for every functional kernel
of the backend: deeplink's dispatcher does not decompose out= forms, and composite ops call some
of them (arange.start_out under linspace/logspace helpers, sum.IntList_out, ...). The kernel-table
API makes them (cast check, resize); the write into `out` is this backend's copy graph
(ops/copy.py)."""
from .copy import convert
from .registry import TABLE

TABLE.add_out_variants(lambda out, result, op_name: convert(out, result))

"""The collective part of the vendor backend contract (Backend.collectives(), docs/distributed.md).

A backend's `collectives()` returns a `Collectives`: the name of its collective library and a way
to connect one rank of a process group to it. Connecting gives a `Communicator`, which runs
collectives on tensors of the backend's device. The engine (engine.py) sits between c10d and the
communicator and hands it only easy cases: contiguous tensors of its device, in dtypes it declares,
reduce ops it declares (AVG and PREMUL_SUM are rewritten to SUM otherwise), and only the
primitives below; the list-shaped c10d collectives are composed from them here unless the library
has its own (then override). Every method returns a c10d Work that completes when the outputs are
written; its result()/future value are not used.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .works import all_of

RedOp = dist.ReduceOp.RedOpType
BASIC_OPS = frozenset({RedOp.SUM, RedOp.PRODUCT, RedOp.MIN, RedOp.MAX})


@dataclass
class GroupInfo:
    """What a communicator gets to connect: the group's store (prefixed for this backend), this
    rank, the group size, the timeout, the group's name, and the process group's own gloo for
    host-memory transports (deeplink runs one per group for CPU tensors anyway)."""
    store: object
    rank: int
    size: int
    timeout: timedelta
    group_name: str
    gloo: object


class Collectives:
    """What Backend.collectives() returns. Ranks whose `library` is equal talk to each other
    directly; a group whose ranks disagree meets in gloo with host staging (engine.py)."""

    #: Name of the collective library ("gloo", "hccl", "nccl", or a plugin's own).
    library: str = ""
    #: One line for `deeplink info` and docs: what runs the collectives, and how tensors reach it.
    description: str = ""

    def connect(self, group: GroupInfo) -> "Communicator":
        raise NotImplementedError


class Communicator:
    """One rank's end of one process group on a collective library."""

    def __init__(self, group: GroupInfo):
        self.group = group
        self.rank = group.rank
        self.size = group.size

    #: The stats path of collectives that run here (stats.py), e.g. "hccl".
    path: str = ""
    #: Dtypes its reductions accept; the engine widens others (int16 -> int32, ...).
    reduce_dtypes: frozenset = frozenset()
    #: Dtypes its data movement accepts; the engine moves others as bytes (uint8 must be here).
    copy_dtypes: frozenset = frozenset({torch.uint8})
    #: Reduce ops it accepts (ReduceOp.RedOpType); AVG/PREMUL_SUM become SUM plus local math.
    reduce_ops: frozenset = BASIC_OPS

    # ---- primitives: a library must provide these -----------------------------------------
    def allreduce(self, tensors: list, op) -> object:
        raise NotImplementedError

    def broadcast(self, tensors: list, root: int) -> object:
        raise NotImplementedError

    def allgather_into(self, output: torch.Tensor, input: torch.Tensor) -> object:
        """output = cat of every rank's input along dim 0 (flat)."""
        raise NotImplementedError

    def reduce_scatter_into(self, output: torch.Tensor, input: torch.Tensor, op) -> object:
        """output = op-reduction over ranks of input's chunk number `rank` (flat)."""
        raise NotImplementedError

    def alltoall_single(self, output, input, output_splits: list, input_splits: list) -> object:
        """Rows of input (dim 0) go to ranks in input_splits counts; output likewise receives.
        Empty splits mean equal ones."""
        raise NotImplementedError

    def send(self, tensors: list, dst: int, tag: int) -> object:
        raise NotImplementedError

    def recv(self, tensors: list, src: int, tag: int) -> object:
        raise NotImplementedError

    def barrier(self) -> object:
        raise NotImplementedError

    def shutdown(self) -> None:
        pass

    # ---- compositions: correct on any library; override where the library does better ----
    def reduce(self, tensors: list, root: int, op) -> object:
        """The root's tensors get the result; non-roots' may be overwritten (the engine hands
        non-roots copies of theirs)."""
        return self.allreduce(tensors, op)

    def allgather(self, outputs: list, inputs: list) -> object:
        works, copies = [], []
        for outs, inp in zip(outputs, inputs):
            flat = torch.empty((len(outs) * inp.numel(),), dtype=inp.dtype, device=inp.device)
            works.append(self.allgather_into(flat, inp.reshape(-1)))
            copies.append((outs, flat))
        return all_of(works, finish=lambda: _split_into(copies))

    def gather(self, outputs: list, inputs: list, root: int) -> object:
        # Every rank gathers (a library without gather has no cheaper way); only the root keeps it.
        if self.rank != root:
            outputs = [[torch.empty_like(inputs[0]) for _ in range(self.size)]]
        return self.allgather(outputs, inputs)

    def scatter(self, output: torch.Tensor, inputs: list, root: int) -> object:
        # The root's list, flattened and broadcast; every rank keeps its own chunk.
        if self.rank == root:
            flat = _flat_copy(inputs)
        else:
            flat = torch.empty((self.size * output.numel(),), dtype=output.dtype, device=output.device)
        work = self.broadcast([flat], root)
        n, r = output.numel(), self.rank
        return all_of([work], finish=lambda: output.view(-1).copy_(flat[r * n:(r + 1) * n]))

    def reduce_scatter(self, output: torch.Tensor, inputs: list, op) -> object:
        return self.reduce_scatter_into(output.view(-1), _flat_copy(inputs), op)

    def alltoall(self, outputs: list, inputs: list) -> object:
        flat_in = _flat_copy(inputs)
        flat_out = torch.empty((sum(t.numel() for t in outputs),), dtype=outputs[0].dtype, device=outputs[0].device)
        work = self.alltoall_single(flat_out, flat_in, [t.numel() for t in outputs], [t.numel() for t in inputs])
        return all_of([work], finish=lambda: _split_into([(outputs, flat_out)]))

    def recv_anysource(self, tensors: list, tag: int) -> object:
        raise NotImplementedError(f"{type(self).__name__} ({self.path}) cannot receive from any source; "
                                  f"name the source rank (dist.recv(tensor, src=...))")


def _flat_copy(tensors):
    """One flat tensor holding `tensors` one after the other (copies, which every backend runs
    natively, rather than cat, which some lack for some dtypes)."""
    flat = torch.empty((sum(t.numel() for t in tensors),), dtype=tensors[0].dtype, device=tensors[0].device)
    offset = 0
    for t in tensors:
        flat[offset:offset + t.numel()].copy_(t.reshape(-1))
        offset += t.numel()
    return flat


def _split_into(pairs) -> None:
    for outs, flat in pairs:
        offset = 0
        for out in outs:
            out.view(-1).copy_(flat[offset:offset + out.numel()])
            offset += out.numel()


__all__ = ["Collectives", "Communicator", "GroupInfo", "BASIC_OPS", "RedOp"]

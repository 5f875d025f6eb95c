"""The CUDA backend's collectives for torch.distributed: NCCL, through torch's own
ProcessGroupNCCL, run on the CUDA aliases of deeplink tensors (deeplink.aten_view: zero-copy
torch.cuda views of the same memory), so a collective costs what NCCL costs on plain CUDA tensors.

NOT VERIFIED: this machine has no GPU and a CPU-only torch, so this file has not run; its tests
are marked `cuda` (tests/distributed/test_nccl.py) and docs/distributed.md says so. NCCL's AVG and
PREMUL_SUM are left to the engine (SUM plus a division or a scaling on the device), so every
library computes them the same way; NCCL has no bitwise reductions, which the engine stages
through gloo. ProcessGroupNCCL orders its work after the current CUDA stream and Work.wait()
makes the current stream wait for it; the deeplink cuda backend's streams are torch.cuda's.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch._C import _distributed_c10d as c10d

from deeplink.distributed import Collectives, Communicator
from deeplink.distributed.communicator import BASIC_OPS

# What ProcessGroupNCCL reduces (bool goes as uint8 with max for SUM, as torch does).
NCCL_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8,
                         torch.int32, torch.int64, torch.bool})


class NcclCollectives(Collectives):
    library = "nccl"
    description = "NCCL (torch's ProcessGroupNCCL) on zero-copy CUDA views of device memory (unverified here)"

    def connect(self, group):
        return NcclCommunicator(group)


def _views(tensors):
    from deeplink import aten_view
    return [aten_view(t) for t in tensors]


def _opts(cls, **fields):
    o = cls()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


class NcclCommunicator(Communicator):
    path = "nccl"
    reduce_dtypes = NCCL_DTYPES
    copy_dtypes = NCCL_DTYPES
    reduce_ops = BASIC_OPS

    def __init__(self, group):
        super().__init__(group)
        torch.cuda.set_device(torch.deeplink.current_device())  # the cuda backend's device i is cuda:i
        options = dist.ProcessGroupNCCL.Options()
        options._timeout = group.timeout
        self.nccl = dist.ProcessGroupNCCL(dist.PrefixStore("nccl/", group.store), group.rank, group.size, options)
        self.timeout = group.timeout

    def allreduce(self, tensors, op):
        return self.nccl.allreduce(_views(tensors), _opts(c10d.AllreduceOptions, reduceOp=dist.ReduceOp(op),
                                                          timeout=self.timeout))

    def broadcast(self, tensors, root):
        return self.nccl.broadcast(_views(tensors), _opts(c10d.BroadcastOptions, rootRank=root, timeout=self.timeout))

    def allgather_into(self, output, input):
        out, inp = _views([output, input])
        return self.nccl._allgather_base(out, inp, _opts(c10d.AllgatherOptions, timeout=self.timeout))

    def reduce_scatter_into(self, output, input, op):
        out, inp = _views([output, input])
        return self.nccl._reduce_scatter_base(out, inp, _opts(c10d.ReduceScatterOptions, reduceOp=dist.ReduceOp(op),
                                                              timeout=self.timeout))

    def alltoall_single(self, output, input, output_splits, input_splits):
        out, inp = _views([output, input])
        return self.nccl.alltoall_base(out, inp, output_splits, input_splits,
                                       _opts(c10d.AllToAllOptions, timeout=self.timeout))

    def send(self, tensors, dst, tag):
        return self.nccl.send(_views(tensors), dst, tag)

    def recv(self, tensors, src, tag):
        return self.nccl.recv(_views(tensors), src, tag)

    def barrier(self):
        return self.nccl.barrier(_opts(c10d.BarrierOptions, timeout=self.timeout))

    def reduce(self, tensors, root, op):
        return self.nccl.reduce(_views(tensors), _opts(c10d.ReduceOptions, rootRank=root, reduceOp=dist.ReduceOp(op),
                                                       timeout=self.timeout))

    def shutdown(self):
        self.nccl.shutdown()

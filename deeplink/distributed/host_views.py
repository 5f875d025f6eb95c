"""Collectives of host-memory backends (cpu, onnxruntime, plugins whose runtime is
host_accessible): gloo, run on zero-copy host views of the deeplink tensors (deeplink.host_view),
so a collective moves exactly the bytes gloo moves for plain CPU tensors. Every c10d collective
gloo has is forwarded as such (no composition), which keeps the cost that of gloo itself."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch._C import _distributed_c10d as c10d

from .communicator import Collectives, Communicator, RedOp
from .stats import HOST_VIEW

# What ProcessGroupGloo accepts (torch 2.11-2.13): other dtypes are moved as bytes or widened by
# the engine. Bitwise ops only apply to integers and bool (gloo checks). AVG is left to the engine
# (SUM, then a division on the device): gloo averages floats only.
GLOO_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8,
                         torch.int32, torch.int64, torch.bool})
GLOO_OPS = frozenset({RedOp.SUM, RedOp.PRODUCT, RedOp.MIN, RedOp.MAX, RedOp.BAND, RedOp.BOR,
                      RedOp.BXOR})


class HostViewCollectives(Collectives):
    library = "gloo"
    description = "gloo on zero-copy host views of device memory"

    def connect(self, group):
        return HostViewCommunicator(group)


def _view(t):
    """The host view of a deeplink tensor; CPU tensors (staging.py's host copies) pass through."""
    from deeplink import host_view
    return t if t.device.type == "cpu" else host_view(t)


def _views(tensors):
    return [_view(t) for t in tensors]


def _opts(cls, **fields):
    o = cls()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


class HostViewCommunicator(Communicator):
    path = HOST_VIEW
    reduce_dtypes = GLOO_DTYPES
    copy_dtypes = GLOO_DTYPES
    reduce_ops = GLOO_OPS

    def __init__(self, group):
        super().__init__(group)
        self.gloo = group.gloo
        self.timeout = group.timeout

    def allreduce(self, tensors, op):
        return self.gloo.allreduce(_views(tensors), _opts(c10d.AllreduceOptions, reduceOp=dist.ReduceOp(op),
                                                          timeout=self.timeout))

    def broadcast(self, tensors, root):
        return self.gloo.broadcast(_views(tensors), _opts(c10d.BroadcastOptions, rootRank=root, timeout=self.timeout))

    def allgather_into(self, output, input):
        return self.gloo._allgather_base(_view(output), _view(input),
                                         _opts(c10d.AllgatherOptions, timeout=self.timeout))

    def reduce_scatter_into(self, output, input, op):
        return self.gloo._reduce_scatter_base(_view(output), _view(input),
                                              _opts(c10d.ReduceScatterOptions, reduceOp=dist.ReduceOp(op),
                                                    timeout=self.timeout))

    def alltoall_single(self, output, input, output_splits, input_splits):
        return self.gloo.alltoall_base(_view(output), _view(input), output_splits, input_splits,
                                       _opts(c10d.AllToAllOptions, timeout=self.timeout))

    def send(self, tensors, dst, tag):
        return self.gloo.send(_views(tensors), dst, tag)

    def recv(self, tensors, src, tag):
        return self.gloo.recv(_views(tensors), src, tag)

    def recv_anysource(self, tensors, tag):
        return self.gloo.recv_anysource(_views(tensors), tag)

    def barrier(self):
        return self.gloo.barrier(_opts(c10d.BarrierOptions, timeout=self.timeout))

    def reduce(self, tensors, root, op):
        return self.gloo.reduce(_views(tensors), _opts(c10d.ReduceOptions, rootRank=root, reduceOp=dist.ReduceOp(op),
                                                       timeout=self.timeout))

    def allgather(self, outputs, inputs):
        return self.gloo.allgather([_views(o) for o in outputs], _views(inputs),
                                   _opts(c10d.AllgatherOptions, timeout=self.timeout))

    def gather(self, outputs, inputs, root):
        return self.gloo.gather([_views(o) for o in outputs], _views(inputs),
                                _opts(c10d.GatherOptions, rootRank=root, timeout=self.timeout))

    def scatter(self, output, inputs, root):
        return self.gloo.scatter(_views([output]), [_views(inputs)] if inputs else [],
                                 _opts(c10d.ScatterOptions, rootRank=root, timeout=self.timeout))

    def reduce_scatter(self, output, inputs, op):
        return self.gloo.reduce_scatter(_views([output]), [_views(inputs)],
                                        _opts(c10d.ReduceScatterOptions, reduceOp=dist.ReduceOp(op),
                                              timeout=self.timeout))

    def alltoall(self, outputs, inputs):
        return self.gloo.alltoall(_views(outputs), _views(inputs), _opts(c10d.AllToAllOptions, timeout=self.timeout))

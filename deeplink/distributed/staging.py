"""Host staging: a rank whose device memory gloo cannot read takes part in a gloo group through
host copies. Inputs are copied to host memory, gloo runs on the copies, outputs are copied back
when the collective completes. Two reasons lead here (stats.py): the group mixes vendors whose
own libraries cannot talk to each other (STAGED_MIXED), or the backend has no collectives at all
(STAGED_FALLBACK, counted like an op fallback). Cost: one device->host and one host->device copy
of each tensor per collective, on top of gloo's own time (docs/distributed.md)."""
from __future__ import annotations

import torch

from .host_views import HostViewCommunicator
from .works import all_of


def _host(t):
    return t.cpu()


def _host_empty(t):
    return torch.empty(t.shape, dtype=t.dtype, device="cpu")


def _copy_back(work, pairs):
    def finish():
        for device_tensor, host_tensor in pairs:
            device_tensor.copy_(host_tensor)
    return all_of([work], finish=finish)


class StagedCommunicator(HostViewCommunicator):
    """The host-view communicator's gloo calls, on host copies instead of views."""

    def __init__(self, group, path: str):
        super().__init__(group)
        self.path = path

    def allreduce(self, tensors, op):
        host = [_host(t) for t in tensors]
        return _copy_back(super().allreduce(host, op), list(zip(tensors, host)))

    def broadcast(self, tensors, root):
        host = [_host(t) if self.rank == root else _host_empty(t) for t in tensors]
        return _copy_back(super().broadcast(host, root), list(zip(tensors, host)) if self.rank != root else [])

    def allgather_into(self, output, input):
        host_out = _host_empty(output)
        return _copy_back(super().allgather_into(host_out, _host(input)), [(output, host_out)])

    def reduce_scatter_into(self, output, input, op):
        host_out = _host_empty(output)
        return _copy_back(super().reduce_scatter_into(host_out, _host(input), op), [(output, host_out)])

    def alltoall_single(self, output, input, output_splits, input_splits):
        host_out = _host_empty(output)
        return _copy_back(super().alltoall_single(host_out, _host(input), output_splits, input_splits),
                          [(output, host_out)])

    def send(self, tensors, dst, tag):
        host = [_host(t) for t in tensors]
        return all_of([super().send(host, dst, tag)])  # keeps the host copies alive until sent

    def recv(self, tensors, src, tag):
        host = [_host_empty(t) for t in tensors]
        return _copy_back(super().recv(host, src, tag), list(zip(tensors, host)))

    def recv_anysource(self, tensors, tag):
        host = [_host_empty(t) for t in tensors]
        return _copy_back(super().recv_anysource(host, tag), list(zip(tensors, host)))

    def reduce(self, tensors, root, op):
        host = [_host(t) for t in tensors]
        return _copy_back(super().reduce(host, root, op), list(zip(tensors, host)) if self.rank == root else [])

    def allgather(self, outputs, inputs):
        host_outs = [[_host_empty(t) for t in outs] for outs in outputs]
        pairs = [p for outs, hosts in zip(outputs, host_outs) for p in zip(outs, hosts)]
        return _copy_back(super().allgather(host_outs, [_host(t) for t in inputs]), pairs)

    def gather(self, outputs, inputs, root):
        host_outs = [[_host_empty(t) for t in outs] for outs in outputs]
        pairs = [p for outs, hosts in zip(outputs, host_outs) for p in zip(outs, hosts)]
        return _copy_back(super().gather(host_outs, [_host(t) for t in inputs], root), pairs)

    def scatter(self, output, inputs, root):
        host_out = _host_empty(output)
        return _copy_back(super().scatter(host_out, [_host(t) for t in inputs], root), [(output, host_out)])

    def reduce_scatter(self, output, inputs, op):
        host_out = _host_empty(output)
        return _copy_back(super().reduce_scatter(host_out, [_host(t) for t in inputs], op), [(output, host_out)])

    def alltoall(self, outputs, inputs):
        host_outs = [_host_empty(t) for t in outputs]
        return _copy_back(super().alltoall(host_outs, [_host(t) for t in inputs]), list(zip(outputs, host_outs)))

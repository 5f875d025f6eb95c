"""The Ascend backend's collectives for torch.distributed: HCCL, loaded at run time
(_vendor/hccl.py), run on the device stream.

A communicator is made the documented way: rank 0 calls HcclGetRootInfo and shares the 4108-byte
root info through the process group's store; every rank calls HcclCommInitRootInfo. Each
collective is queued on the caller's current deeplink stream (its aclrtStream) and followed by an
ACL event; one waiter thread per communicator synchronises those events in order and completes
the c10d Work, so a collective is asynchronous for the host like an NCCL one, and a failure
(a dead peer, a timeout) surfaces as the Work's error with HCCL's own message.

HCCL has no AVG, PREMUL_SUM or bitwise reductions and reduces fewer dtypes than it moves; the
engine (deeplink/distributed/engine.py) fills those in. HCCL_EXEC_TIMEOUT, when unset, is set from
the process group's timeout before the first communicator is made. Verified on the emulator only
(tests/ascend_emulator/hccl.cpp): no Ascend hardware was reachable.
"""
from __future__ import annotations

import ctypes as C
import os
import queue
import threading

import torch

from deeplink.distributed import Collectives, Communicator
from deeplink.distributed.communicator import BASIC_OPS, RedOp

from ._vendor import hccl as H

_OPS = {RedOp.SUM: H.SUM, RedOp.PRODUCT: H.PROD, RedOp.MAX: H.MAX, RedOp.MIN: H.MIN}
# What HcclAllReduce / HcclReduceScatter reduce (CANN 8 documentation); HCCL moves every DATA_TYPES dtype.
REDUCE_DTYPES = frozenset({torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.float32,
                           torch.bfloat16})
ROOT_INFO_KEY = "hccl/root_info"


class HcclCollectives(Collectives):
    library = "hccl"
    description = "HCCL (libhccl.so, loaded at run time) on the device stream"

    def __init__(self, state):
        self.state = state
        self.hccl = H.Hccl(state.libs, state.acl.recent_error)  # raises HcclNotFound with the why

    def connect(self, group):
        return HcclCommunicator(group, self.state, self.hccl)


class HcclCommunicator(Communicator):
    path = "hccl"
    reduce_dtypes = REDUCE_DTYPES
    copy_dtypes = frozenset(H.DATA_TYPES)
    reduce_ops = BASIC_OPS

    def __init__(self, group, state, hccl):
        super().__init__(group)
        self.hccl = hccl
        self.runtime = state.runtime
        self.device = torch.deeplink.current_device()
        os.environ.setdefault("HCCL_EXEC_TIMEOUT", str(max(1, int(group.timeout.total_seconds()))))
        self.runtime.bind(self.device)
        info = C.create_string_buffer(H.ROOT_INFO_BYTES)
        if self.rank == 0:
            hccl.check(hccl.HcclGetRootInfo(info), "HcclGetRootInfo")
            group.store.set(ROOT_INFO_KEY, info.raw)
        else:
            C.memmove(info, group.store.get(ROOT_INFO_KEY), H.ROOT_INFO_BYTES)
        comm = C.c_void_p()
        hccl.check(hccl.HcclCommInitRootInfo(self.size, info, self.rank, C.byref(comm)), "HcclCommInitRootInfo",
                   f"rank {self.rank} of {self.size}")
        self.comm = comm.value
        self._pending = queue.Queue()
        self._waiter = threading.Thread(target=self._wait_loop, name=f"hccl-waiter-{group.group_name}", daemon=True)
        self._waiter.start()

    # -- launching --
    def _launch(self, calls, keep):
        """Queue `calls` (name, fn(acl_stream) -> HcclResult) on the current stream; the Work
        completes when the device has run them."""
        from deeplink import stream_handle
        from deeplink.distributed._ext import extension
        self.runtime.bind(self.device)
        handle = stream_handle()
        stream = self.runtime.acl_stream(self.device, handle)
        for name, fn in calls:
            self.hccl.check(fn(stream), name, f"rank {self.rank} of {self.size}")
        event = self.runtime.event_create(self.device)
        self.runtime.event_record(self.device, event, handle)
        pending = extension().PendingWork()
        self._pending.put((event, pending, keep))
        return pending.work

    def _wait_loop(self):
        while True:
            item = self._pending.get()
            if item is None:
                return
            event, pending, _keep = item  # _keep holds the tensors until the device is done with them
            try:
                self.runtime.event_synchronize(self.device, event)
            except Exception as e:  # noqa: BLE001  handed to whoever waits on the Work
                pending.fail(str(e))
            else:
                pending.complete()
            finally:
                self.runtime.event_destroy(self.device, event)

    def shutdown(self):
        if self.comm:
            self._pending.put(None)
            self._waiter.join(timeout=60)
            self.hccl.check(self.hccl.HcclCommDestroy(self.comm), "HcclCommDestroy")
            self.comm = None

    # -- primitives --
    def allreduce(self, tensors, op):
        h, c = self.hccl, self.comm
        return self._launch([("HcclAllReduce", lambda s, t=t: h.HcclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(),
                                                                             H.DATA_TYPES[t.dtype], _OPS[op], c, s))
                             for t in tensors], tensors)

    def broadcast(self, tensors, root):
        h, c = self.hccl, self.comm
        return self._launch([("HcclBroadcast", lambda s, t=t: h.HcclBroadcast(t.data_ptr(), t.numel(),
                                                                             H.DATA_TYPES[t.dtype], root, c, s))
                             for t in tensors], tensors)

    def allgather_into(self, output, input):
        h, c = self.hccl, self.comm
        return self._launch([("HcclAllGather", lambda s: h.HcclAllGather(input.data_ptr(), output.data_ptr(),
                                                                         input.numel(), H.DATA_TYPES[input.dtype],
                                                                         c, s))], [output, input])

    def reduce_scatter_into(self, output, input, op):
        h, c = self.hccl, self.comm
        return self._launch([("HcclReduceScatter", lambda s: h.HcclReduceScatter(
            input.data_ptr(), output.data_ptr(), output.numel(), H.DATA_TYPES[input.dtype], _OPS[op], c, s))],
            [output, input])

    def alltoall_single(self, output, input, output_splits, input_splits):
        n = self.size
        send = input_splits or [input.numel() // n] * n
        recv = output_splits or [output.numel() // n] * n
        arrays = [(C.c_uint64 * n)(*v) for v in (send, _displacements(send), recv, _displacements(recv))]
        dt = H.DATA_TYPES[input.dtype]
        h, c = self.hccl, self.comm
        return self._launch([("HcclAlltoAllV", lambda s: h.HcclAlltoAllV(input.data_ptr(), arrays[0], arrays[1], dt,
                                                                         output.data_ptr(), arrays[2], arrays[3], dt,
                                                                         c, s))], [output, input, arrays])

    def send(self, tensors, dst, tag):
        h, c = self.hccl, self.comm
        return self._launch([("HcclSend", lambda s, t=t: h.HcclSend(t.data_ptr(), t.numel(), H.DATA_TYPES[t.dtype],
                                                                   dst, c, s)) for t in tensors], tensors)

    def recv(self, tensors, src, tag):
        h, c = self.hccl, self.comm
        return self._launch([("HcclRecv", lambda s, t=t: h.HcclRecv(t.data_ptr(), t.numel(), H.DATA_TYPES[t.dtype],
                                                                   src, c, s)) for t in tensors], tensors)

    def barrier(self):
        h, c = self.hccl, self.comm
        return self._launch([("HcclBarrier", lambda s: h.HcclBarrier(c, s))], [])


def _displacements(counts):
    out, total = [], 0
    for k in counts:
        out.append(total)
        total += k
    return out


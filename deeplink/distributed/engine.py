"""The engine behind one deeplink process-group backend: every c10d collective lands here (through
csrc/distributed/engine_backend.cpp) and is handed to the rank's communicator in a shape it takes.

Per call it: sends CPU tensors straight to the group's gloo; checks deeplink tensors belong to
this rank's backend; gives the communicator contiguous stand-ins (copying back afterwards into
non-contiguous outputs), moves dtypes the library lacks as bytes (data movement) or widened
(reductions, e.g. int16 through int32, float8 through float32); turns AVG and PREMUL_SUM into SUM
plus local math where the library lacks them; counts the path (stats.py); and wraps the Work so
its result and future hold the caller's tensors and a failure names the collective, the group and
the path.
"""
from __future__ import annotations

import threading
import warnings

import torch
import torch.distributed as dist

from . import stats
from ._ext import extension
from .communicator import RedOp

# Widened dtype for reductions a library lacks: exact for integers (wrap-around is kept by the
# truncating copy back), one rounding for low-precision floats.
_WIDER = {torch.int16: torch.int32, torch.uint16: torch.int32, torch.uint32: torch.int64,
          torch.int8: torch.int32, torch.uint8: torch.int32, torch.bool: torch.int32,
          torch.float16: torch.float32, torch.bfloat16: torch.float32, torch.float8_e4m3fn: torch.float32,
          torch.float8_e5m2: torch.float32, torch.float8_e4m3fnuz: torch.float32,
          torch.float8_e5m2fnuz: torch.float32, torch.int32: torch.int64, torch.float32: torch.float64}
_COMPLEX_OF = {torch.float16: torch.complex32, torch.float32: torch.complex64, torch.float64: torch.complex128}


class _Unreducible(Exception):
    """The library cannot reduce this dtype, gloo can: the call is rerouted through staging."""


def _reroutable(method):
    """Runs `method`; when its communicator cannot reduce a dtype that host staging through gloo
    can (e.g. float64 on HCCL), runs it again on the staging communicator. Every rank of a group
    runs the same communicator kind, so every rank reroutes the same call."""
    def run(self, *args):
        try:
            return method(self, *args)
        except _Unreducible:
            self._local.comm = self._staged()
            try:
                return method(self, *args)
            finally:
                self._local.comm = None
    run.__name__ = method.__name__
    return run


class Engine:
    def __init__(self, group, comm, backend: str, slot: int, plan: dict):
        self.group = group              # communicator.GroupInfo
        self.gloo = group.gloo
        self.comm = comm
        self.backend = backend          # deeplink backend of this rank
        self.slot = slot                # its id in the shim (tensor ownership check)
        self.plan = plan                # what negotiation decided (negotiation.py)
        self.name = group.group_name or "default_pg"
        self.timeout = group.timeout
        self._warned = set()
        self._local = threading.local()   # .comm: a communicator replacing self.comm for one call
        self._staging = None
        self.fast_path = None             # the C++ fast path of host views, when c10d.py set one up

    # ---- what the process group says about itself -------------------------------------------
    def describe(self) -> dict:
        return {"group": self.name, "rank": self.group.rank, "size": self.group.size, "backend": self.backend,
                "library": self.plan["library"], "path": self.comm.path, "offers": self.plan["offers"]}

    def stats(self) -> dict:
        return stats.collective_stats(self.name)

    # ---- c10d Backend methods ---------------------------------------------------------------
    @_reroutable
    def allreduce(self, tensors, opts):
        if _cpu(tensors):
            return self._on_cpu("all_reduce", tensors, self.gloo.allreduce(tensors, opts))
        c = self._call("all_reduce", reduction=True)
        stand = [c.inout(t) for t in tensors]
        op = c.reduce_op(opts.reduceOp, stand, in_place=True)
        c.post_reduce(stand)
        return c.done(c.comm.allreduce(stand, op), tensors)

    @_reroutable
    def allreduce_coalesced(self, tensors, opts):
        if _cpu(tensors):
            return self._on_cpu("all_reduce_coalesced", tensors, self.gloo.allreduce_coalesced(tensors, opts))
        c = self._call("all_reduce_coalesced", reduction=True)
        stand = [c.inout(t) for t in tensors]
        op = c.reduce_op(opts.reduceOp, stand, in_place=True)
        c.post_reduce(stand)
        return c.done(c.comm.allreduce(stand, op), tensors)

    @_reroutable
    def reduce(self, tensors, opts):
        if _cpu(tensors):
            return self._on_cpu("reduce", tensors, self.gloo.reduce(tensors, opts))
        c = self._call("reduce", reduction=True)
        root = self.group.rank == opts.rootRank
        # Non-roots keep their tensors (libraries, gloo included, may use them as scratch): they
        # hand the library copies.
        stand = [c.inout(t) for t in tensors] if root else [c.input(t).clone() for t in tensors]
        op = c.reduce_op(opts.reduceOp, stand, in_place=root)
        if root:
            c.post_reduce(stand)
        return c.done(c.comm.reduce(stand, opts.rootRank, op), tensors)

    def broadcast(self, tensors, opts):
        if _cpu(tensors):
            return self._on_cpu("broadcast", tensors, self.gloo.broadcast(tensors, opts))
        c = self._call("broadcast")
        stand = [c.inout(t) for t in tensors]
        return c.done(c.comm.broadcast(stand, opts.rootRank), tensors)

    def allgather(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("all_gather", inputs, self.gloo.allgather(outputs, inputs, opts))
        c = self._call("all_gather")
        outs = [[c.output(t) for t in group] for group in outputs]
        return c.done(c.comm.allgather(outs, [c.input(t) for t in inputs]), [t for g in outputs for t in g])

    def allgather_coalesced(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("all_gather_coalesced", inputs, self.gloo.allgather_coalesced(outputs, inputs, opts))
        return self.allgather(outputs, inputs, opts)

    def _allgather_base(self, output, input, opts):
        if _cpu([input]):
            return self._on_cpu("all_gather_into_tensor", [input], self.gloo._allgather_base(output, input, opts))
        c = self._call("all_gather_into_tensor")
        out = c.output(output, flat=True)
        return c.done(c.comm.allgather_into(out, c.input(input, flat=True)), [output])

    def allgather_into_tensor_coalesced(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("all_gather_into_tensor_coalesced", inputs,
                                self.gloo.allgather_into_tensor_coalesced(outputs, inputs, opts))
        c = self._call("all_gather_into_tensor_coalesced")
        works = [c.comm.allgather_into(c.output(o, flat=True), c.input(i, flat=True))
                 for o, i in zip(outputs, inputs)]
        return c.done_all(works, outputs)

    def gather(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("gather", inputs, self.gloo.gather(outputs, inputs, opts))
        c = self._call("gather")
        outs = [[c.output(t) for t in group] for group in outputs]
        return c.done(c.comm.gather(outs, [c.input(t) for t in inputs], opts.rootRank),
                      [t for g in outputs for t in g])

    def scatter(self, outputs, inputs, opts):
        if _cpu(outputs):
            return self._on_cpu("scatter", outputs, self.gloo.scatter(outputs, inputs, opts))
        c = self._call("scatter")
        ins = [c.input(t) for t in inputs[0]] if inputs else []
        return c.done(c.comm.scatter(c.output(outputs[0]), ins, opts.rootRank), outputs)

    @_reroutable
    def reduce_scatter(self, outputs, inputs, opts):
        if _cpu(outputs):
            return self._on_cpu("reduce_scatter", outputs, self.gloo.reduce_scatter(outputs, inputs, opts))
        c = self._call("reduce_scatter", reduction=True)
        ins = [c.input(t) for t in inputs[0]]
        op = c.reduce_op(opts.reduceOp, ins, in_place=False)
        out = c.output(outputs[0])
        c.post_reduce([out])
        return c.done(c.comm.reduce_scatter(out, ins, op), outputs)

    @_reroutable
    def _reduce_scatter_base(self, output, input, opts):
        if _cpu([input]):
            return self._on_cpu("reduce_scatter_tensor", [input], self.gloo._reduce_scatter_base(output, input, opts))
        c = self._call("reduce_scatter_tensor", reduction=True)
        ins = [c.input(input, flat=True)]
        op = c.reduce_op(opts.reduceOp, ins, in_place=False)
        out = c.output(output, flat=True)
        c.post_reduce([out])
        return c.done(c.comm.reduce_scatter_into(out, ins[0], op), [output])

    @_reroutable
    def reduce_scatter_tensor_coalesced(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("reduce_scatter_tensor_coalesced", inputs,
                                self.gloo.reduce_scatter_tensor_coalesced(outputs, inputs, opts))
        c = self._call("reduce_scatter_tensor_coalesced", reduction=True)
        ins = [c.input(t, flat=True) for t in inputs]
        op = c.reduce_op(opts.reduceOp, ins, in_place=False)
        outs = [c.output(t, flat=True) for t in outputs]
        c.post_reduce(outs)
        return c.done_all([c.comm.reduce_scatter_into(o, i, op) for o, i in zip(outs, ins)], outputs)

    def alltoall_base(self, output, input, output_splits, input_splits, opts):
        if _cpu([input]):
            return self._on_cpu("all_to_all_single", [input],
                                self.gloo.alltoall_base(output, input, output_splits, input_splits, opts))
        c = self._call("all_to_all_single")
        # Splits count rows (dim 0); the communicator gets flat tensors, so they become elements.
        out, inp = c.output(output, flat=True), c.input(input, flat=True)
        out_splits = [s * out.numel() // max(output.shape[0], 1) for s in output_splits] if output.dim() else []
        in_splits = [s * inp.numel() // max(input.shape[0], 1) for s in input_splits] if input.dim() else []
        return c.done(c.comm.alltoall_single(out, inp, out_splits, in_splits), [output])

    def alltoall(self, outputs, inputs, opts):
        if _cpu(inputs):
            return self._on_cpu("all_to_all", inputs, self.gloo.alltoall(outputs, inputs, opts))
        c = self._call("all_to_all")
        return c.done(c.comm.alltoall([c.output(t) for t in outputs], [c.input(t) for t in inputs]), outputs)

    def send(self, tensors, dst, tag):
        if _cpu(tensors):
            return self._on_cpu("send", tensors, self.gloo.send(tensors, dst, tag))
        c = self._call("send")
        return c.done(c.comm.send([c.input(t) for t in tensors], dst, tag), tensors)

    def recv(self, tensors, src, tag):
        if _cpu(tensors):
            return self._on_cpu("recv", tensors, self.gloo.recv(tensors, src, tag))
        c = self._call("recv")
        return c.done(c.comm.recv([c.output(t) for t in tensors], src, tag), tensors)

    def recv_anysource(self, tensors, tag):
        if _cpu(tensors):
            return self._on_cpu("recv_anysource", tensors, self.gloo.recv_anysource(tensors, tag))
        c = self._call("recv_anysource")
        return c.done(c.comm.recv_anysource([c.output(t) for t in tensors], tag), tensors)

    def barrier(self, opts):
        device = getattr(opts, "device", None)
        if device is not None and device.type == "deeplink":
            c = self._call("barrier")
            return c.done(c.comm.barrier(), [])
        stats.record(self.name, "barrier", stats.CPU, 0)
        return self.gloo.barrier(opts)

    def monitored_barrier(self, opts, wait_all_ranks):
        stats.record(self.name, "monitored_barrier", stats.CPU, 0)
        self.gloo.monitored_barrier(opts.timeout, wait_all_ranks)

    def set_sequence_number_for_group(self):
        self.gloo._set_sequence_number_for_group()

    def get_sequence_number_for_group(self):
        return self.gloo._get_sequence_number_for_group()

    def label(self, path: str) -> str:
        """What an error of this group's collectives says about where it happened."""
        return (f"process group {self.name!r}, rank {self.group.rank} of {self.group.size}, path {path}, timeout "
                f"{self.timeout.total_seconds():.0f} s; a peer that died or stopped calling collectives makes the "
                f"others fail here")

    def set_timeout(self, seconds):
        from datetime import timedelta
        self.timeout = self.group.timeout = timedelta(seconds=seconds)
        self.gloo.set_timeout(self.timeout)
        if self.fast_path is not None:
            self.fast_path.set_label(self.label(stats.HOST_VIEW))

    def abort(self):
        self.comm.shutdown()
        self.gloo.abort()

    def shutdown(self):
        self.comm.shutdown()
        self.gloo.shutdown()

    # ---- helpers ----------------------------------------------------------------------------
    def _on_cpu(self, collective, tensors, work):
        stats.record(self.name, collective, stats.CPU, _nbytes(tensors))
        return work

    def _call(self, collective, reduction=False):
        comm = getattr(self._local, "comm", None) or self.comm
        if comm.path == stats.STAGED_FALLBACK:
            self._staging_allowed(collective)
        return _Call(self, comm, collective, reduction)

    def _staged(self):
        from .staging import StagedCommunicator
        if self._staging is None:
            self._staging = StagedCommunicator(self.group, stats.STAGED_FALLBACK)
        return self._staging

    def can_stage(self, dtype) -> bool:
        """Whether a call this rank's library cannot reduce can go through host staging instead."""
        from .host_views import GLOO_DTYPES
        return self.comm.path not in (stats.HOST_VIEW, *stats.STAGED) and _widen_within(dtype, GLOO_DTYPES) is not None

    def _staging_allowed(self, collective):
        from deeplink import fallback_mode
        mode = fallback_mode()
        why = (f"deeplink: {collective} on backend {self.backend!r} is staged through host memory: the backend "
               f"has no collectives of its own (Backend.collectives() returned None), so every tensor is copied "
               f"to the host, reduced by gloo and copied back")
        if mode == "error":
            raise NotImplementedError(f"{why}. DEEPLINK_FALLBACK=error refuses that. Give the backend collectives "
                                      f"(docs/distributed.md, 'Writing collectives'), or allow staging with "
                                      f"DEEPLINK_FALLBACK=warn.")
        if mode == "warn" and collective not in self._warned:
            self._warned.add(collective)
            warnings.warn(why + " (warned once per collective; counted in deeplink.distributed.collective_stats())",
                          stacklevel=3)


def _widen_within(dtype, allowed):
    """dtype, or the first wider dtype in `allowed`, or None."""
    if dtype.is_complex:
        dtype = dtype.to_real()
    while dtype not in allowed:
        if dtype not in _WIDER:
            return None
        dtype = _WIDER[dtype]
    return dtype


def _cpu(tensors) -> bool:
    return all(t.device.type == "cpu" for t in tensors)


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


class _Call:
    """One collective call: stand-ins for the caller's tensors and what to do once it completes."""

    def __init__(self, engine: Engine, comm, collective: str, reduction: bool):
        self.engine = engine
        self.collective = collective
        self.reduction = reduction
        self.comm = comm
        self.copy_back = []       # (caller's tensor, stand-in): after completion, caller <- stand-in
        self.post = []            # in-place fix-ups of stand-ins after completion (AVG's division)
        self.average = False      # AVG is being run as SUM + division
        self.complex = False      # complex tensors are reduced as their real views
        self.nbytes = 0

    # -- stand-ins --
    def _check(self, t):
        if t.device.type != "deeplink":
            raise ValueError(f"deeplink {self.collective}: got a tensor on {t.device} next to deeplink tensors; "
                             f"pass all tensors of one collective on the same device")
        from deeplink import _C
        if _C._tensor_backend(t) != self.engine.slot:
            from deeplink import tensor_backend
            raise ValueError(f"deeplink {self.collective}: tensor lives in backend {tensor_backend(t)!r} memory but "
                             f"this rank's process group runs on backend {self.engine.backend!r} (the backend active "
                             f"when the group was created); move it with .to() under that backend")
        self.nbytes += t.numel() * t.element_size()

    def _reducible(self, s):
        """s (contiguous), or its real view when complex: a complex sum is the sum of its parts."""
        if s.dtype.is_complex:
            self.complex = True
            return torch.view_as_real(s)
        return s

    def _wider(self, dtype):
        if dtype.is_complex:  # reduced as its real view (_reducible): widen the parts
            return _COMPLEX_OF[self._wider(dtype.to_real())]
        wide = _widen_within(dtype, self.comm.reduce_dtypes)
        if wide is None:
            if self.engine.can_stage(dtype):
                raise _Unreducible(dtype)
            raise TypeError(f"deeplink {self.collective}: dtype {dtype} cannot be reduced on {self.comm.path} "
                            f"(it reduces {', '.join(sorted(str(d) for d in self.comm.reduce_dtypes))})")
        return wide

    def _as_moved(self, s, flat):
        """A stand-in the library can move: itself, or its bytes (data movement is dtype-blind)."""
        if s.dtype in self.comm.copy_dtypes:
            return s.reshape(-1) if flat else s
        return s.reshape(-1).view(torch.uint8)  # contiguous: reshape is a view

    def inout(self, t):
        """A tensor the collective reads and overwrites."""
        self._check(t)
        s = t if t.is_contiguous() else t.contiguous()
        if self.reduction:
            wide = self._wider(t.dtype)
            s = s.to(wide) if wide != t.dtype else s
        if s is not t:
            self.copy_back.append((t, s))
        return self._reducible(s) if self.reduction else self._as_moved(s, flat=False)

    def input(self, t, flat=False):
        """A tensor the collective only reads."""
        self._check(t)
        s = t if t.is_contiguous() else t.contiguous()
        if self.reduction:
            wide = self._wider(t.dtype)
            s = self._reducible(s.to(wide) if wide != t.dtype else s)
            return s.reshape(-1) if flat else s
        return self._as_moved(s, flat)

    def output(self, t, flat=False):
        """A tensor the collective only writes."""
        self._check(t)
        if self.reduction:
            wide = self._wider(t.dtype)
            s = t
            if wide != t.dtype or not t.is_contiguous():
                s = torch.empty(t.shape, dtype=wide, device=t.device)
                self.copy_back.append((t, s))
            s = self._reducible(s)
            return s.reshape(-1) if flat else s
        if t.is_contiguous():
            return self._as_moved(t, flat)
        s = torch.empty(t.shape, dtype=t.dtype, device=t.device)
        self.copy_back.append((t, s))
        return self._as_moved(s, flat)

    # -- reduce ops --
    def reduce_op(self, reduce_op, inputs, in_place):
        """The op to hand the library. Where it lacks them, PREMUL_SUM becomes SUM of inputs
        scaled here (in place for in-place collectives, else on copies: `inputs` is updated) and
        AVG becomes SUM followed by a division that post_reduce() queues for the outputs."""
        op = reduce_op.op if isinstance(reduce_op, dist.ReduceOp) else reduce_op
        if self.complex and op not in (RedOp.SUM, RedOp.AVG, RedOp.PREMUL_SUM):
            raise TypeError(f"deeplink {self.collective}: ReduceOp.{op.name} is not defined for complex tensors "
                            f"(SUM, AVG and PREMUL_SUM are)")
        if op in self.comm.reduce_ops:
            return op
        if op == RedOp.AVG:
            self.average = True
            return RedOp.SUM
        if op == RedOp.PREMUL_SUM:
            factor = reduce_op.factor
            for i, s in enumerate(inputs):
                if in_place:
                    s.mul_(factor)
                else:
                    inputs[i] = s * factor
            return RedOp.SUM
        from .host_views import GLOO_OPS
        if op in GLOO_OPS and self.engine.can_stage(torch.uint8):
            raise _Unreducible(op)  # e.g. bitwise ops on HCCL: gloo has them
        raise NotImplementedError(f"deeplink {self.collective}: ReduceOp.{op.name} is not available on "
                                  f"{self.comm.path}; it reduces with "
                                  f"{', '.join(sorted(o.name for o in self.comm.reduce_ops))}")

    def post_reduce(self, outputs):
        """After reduce_op turned AVG into SUM: divide `outputs` by the group size on completion."""
        if self.average:
            size = self.engine.group.size
            self.post.extend(lambda s=s: _divide(s, size) for s in outputs)

    # -- completion --
    def _finish(self):
        if not self.copy_back and not self.post:
            return None
        post, copy_back = self.post, self.copy_back

        def finish():
            for fix in post:
                fix()
            for caller, stand_in in copy_back:
                caller.copy_(stand_in)
        return finish

    def done(self, work, outputs):
        stats.record(self.engine.name, self.collective, self.comm.path, self.nbytes)
        context = f"deeplink {self.collective} ({self.engine.label(self.comm.path)})"
        return extension().wrap_work(work, list(outputs), self._finish(), context)

    def done_all(self, works, outputs):
        from .works import all_of
        return self.done(all_of(works), outputs)


def _divide(s, size):
    if s.dtype.is_floating_point or s.dtype.is_complex:
        s.div_(size)
    elif s.dtype == torch.bool:
        raise TypeError("ReduceOp.AVG is not defined for bool tensors")
    else:
        s.div_(size, rounding_mode="trunc")

"""The onnxruntime backend's graph compiler (`Backend.compile_graph`, deeplink/compile/): an
AOTAutograd graph (forward or backward, ATen ops) becomes one ONNX graph run by one session.

Each FX node is lowered by its eager kernel (ops/*.py) traced on meta tensors (_vendor/trace.py),
so a compiled graph computes exactly what the same ops compute eagerly, without per-op dispatch,
binding and session runs. Views (view, permute, expand, slice, ...) have no kernel here: they run
on the meta tensors and the tracer expresses them as Reshape/Transpose/Gather nodes.

Nodes that cannot be lowered run eagerly on the device, each on its own, between graph segments:
ops without a kernel in the table or whose kernel declines the dtypes (these fall back op by op as
in eager mode), random ops (their draws must come from deeplink's generator at run time, not be
frozen into a graph), ops that read tensor data on the host (`.item()`), and ops that write their
inputs. `summary()` of the compiled callable, and `stats()["compiled"]` of the backend, say how
many nodes went where and which ops ran eagerly.

Shapes are static: a graph with symbolic sizes (torch.compile(dynamic=True), or a recompile after
shapes changed) is declined and runs op by op, with deeplink's one-time notice.
"""
from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch.fx.node import map_arg

from ._vendor.binding import Binder
from ._vendor.execute import _EMPTY, _dense_order
from ._vendor.graph import ONNX_TYPE
from ._vendor.session_cache import new_session
from ._vendor.trace import Tracer, Untraceable

#: Process-wide counts over every compiled graph (kernels.stats()["compiled"]).
TOTALS: Counter = Counter()
EAGER_OPS: Counter = Counter()


def _is_static(value) -> bool:
    if isinstance(value, torch.Tensor):
        return all(isinstance(s, int) for s in value.shape) and all(isinstance(s, int) for s in value.stride())
    if isinstance(value, (tuple, list)):
        return all(_is_static(v) for v in value)
    return value is None or isinstance(value, (int, float, bool))


def _block_order(shape, stride):
    """Outermost-first dims of a dense permuted layout (None: contiguous or not dense)."""
    t = torch.empty_strided(tuple(shape), tuple(stride), device="meta")
    if t.is_contiguous() or t.numel() == 0:
        return None
    dense = _dense_order(t)
    return None if dense is None or dense[1] else dense[0]


# ---------------------------------------------------------------------------------- the steps

@dataclass
class _Binding:
    name: str           # the session's input or output name
    node: torch.fx.Node
    shape: tuple
    stride: tuple
    dtype: torch.dtype
    block: tuple        # the shape bound (the dense block of a permuted layout, else `shape`)


class Segment:
    """Consecutive lowered nodes: one ONNX graph, one session, bindings rebuilt per call."""

    def __init__(self, index: int):
        self.tracer = Tracer(f"deeplink_graph_{index}")
        self.nodes: list[torch.fx.Node] = []
        self.metas: dict[torch.fx.Node, object] = {}     # node -> meta result (tensor / tuple)
        self.inputs: list[_Binding] = []
        self.outputs: list[_Binding] = []
        self.session = None

    def meta_of(self, node: torch.fx.Node):
        """The meta tensor standing for `node`'s value in this segment (a new graph input when
        another step produced it)."""
        if node in self.metas:
            return self.metas[node]
        val = node.meta["val"]
        if not isinstance(val, torch.Tensor):
            raise Untraceable(f"input {node.name} is not a tensor")
        order = _block_order(val.shape, val.stride())
        block = tuple(val.shape) if order is None else tuple(val.shape[d] for d in order)
        meta, value = self.tracer.input(val.dtype, block)
        if order is not None:     # bound as its dense block, seen through the permutation
            meta = meta.permute([order.index(d) for d in range(val.dim())])
        self.inputs.append(_Binding(value, node, tuple(val.shape), tuple(val.stride()), val.dtype, block))
        self.metas[node] = meta
        return meta

    def finish(self, outputs: list[torch.fx.Node]) -> None:
        g = self.tracer.g
        for node in outputs:
            val = node.meta["val"]
            value = self.tracer.value_of(self.metas[node])
            order = _block_order(val.shape, val.stride())
            if order is not None:
                value = g.op("Transpose", value, perm=list(order))
            block = tuple(val.shape) if order is None else tuple(val.shape[d] for d in order)
            g.output(value, val.dtype)
            stride = tuple(val.stride()) if order is not None else _contiguous_stride(val.shape)
            self.outputs.append(_Binding(g.outputs[-1].name, node, tuple(val.shape), stride, val.dtype, block))
        self.session = new_session(g, ("compiled", g.name), f"a compiled graph of {len(self.nodes)} nodes")
        self.binder = Binder(self.session.session)
        # input names the session kept, in our order (ORT drops none, but names are its own)
        self.inputs = [b for b in self.inputs if b.name in set(self.session.input_names)]
        del self.tracer, self.metas  # compile-time state

    def run(self, env: dict, device: torch.device) -> None:
        io = self.binder
        for b in self.inputs:
            t = env[b.node]
            if t.stride() != b.stride and t.numel() > 1:
                t = torch.empty_strided(b.shape, b.stride, dtype=b.dtype, device=t.device).copy_(t)
                env[b.node] = t
            io.pointer(b.name, ONNX_TYPE[b.dtype], b.block, t.data_ptr() if t.numel() else _EMPTY.ctypes.data)
        for b in self.outputs:
            o = torch.empty_strided(b.shape, b.stride, dtype=b.dtype, device=device)
            io.output(b.name, ONNX_TYPE[b.dtype], b.block, o.data_ptr() if o.numel() else _EMPTY.ctypes.data)
            env[b.node] = o
        io.run()


def _contiguous_stride(shape) -> tuple:
    stride, acc = [], 1
    for s in reversed(shape):
        stride.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(stride))


class EagerNode:
    """One node run by the dispatcher, as in eager mode."""

    def __init__(self, node: torch.fx.Node, reason: str):
        self.node, self.reason = node, reason

    def run(self, env: dict, device: torch.device) -> None:
        node = self.node
        args = map_arg(node.args, lambda n: env[n])
        kwargs = map_arg(node.kwargs, lambda n: env[n])
        env[node] = node.target(*args, **kwargs)


# ---------------------------------------------------------------------------------- lowering

def _lower(segment: Segment, node: torch.fx.Node):
    """Trace `node` into `segment`; returns its meta result, or raises Untraceable."""
    from deeplink.dispatcher import _with_dtype_check
    from deeplink.opset.names import normalise

    from .ops import TABLE
    from .ops.common import full_args
    target = node.target
    if not isinstance(target, torch._ops.OpOverload):
        raise Untraceable(f"{target} is not an ATen op")
    if target._schema.is_mutable:
        raise Untraceable("it writes its inputs")
    if torch.Tag.nondeterministic_seeded in target.tags:
        raise Untraceable("random: draws come from deeplink's generator at run time")
    args = _on_meta(map_arg(node.args, segment.meta_of))
    kwargs = _on_meta(map_arg(node.kwargs, segment.meta_of))
    name = normalise(str(target))
    kernel = TABLE.get(name)
    if name in _COPIES:
        result = _copy(segment, *args, **kwargs)
    elif kernel is None:
        result = segment.tracer.call(target, *args, **kwargs)   # a view, or nothing we can trace
    else:
        values = full_args(name, args, kwargs)
        schema = target._schema.arguments
        pos = [v for v, a in zip(values, schema) if not a.kwarg_only]
        kw = {a.name: v for v, a in zip(values, schema) if a.kwarg_only}
        result = segment.tracer.call(_with_dtype_check(kernel), *pos, **kw)
        if result is NotImplemented:
            raise Untraceable("the kernel declines these dtypes")
    _check_like(result, node.meta["val"])
    for t in result if isinstance(result, (tuple, list)) else [result]:
        if isinstance(t, torch.Tensor):
            segment.tracer.value_of(t)  # raises unless a graph value (or a view of one) made it
    return result


_META = torch.device("meta")
#: Copies are plain values in a graph (the eager kernels bind raw storage spans instead).
_COPIES = frozenset({"clone", "_to_copy", "lift_fresh_copy", "alias"})


def _copy(segment: Segment, x, dtype=None, device=None, **ignored):
    """clone / _to_copy / lift_fresh_copy: the value, converted as the eager copy converts."""
    from .ops.copy import cast
    if device is not None and device.type != "meta":
        raise Untraceable(f"a copy to {device}")
    tracer = segment.tracer
    dtype = dtype or x.dtype
    out = torch.empty(x.shape, dtype=dtype, device=_META)
    tracer.bind(out, cast(tracer.g, tracer.value_of(x), dtype))
    return out


def _on_meta(value):
    """Factory arguments name the deeplink device: traced, everything lives on the meta device."""
    if isinstance(value, torch.device) and value.type == "deeplink":
        return _META
    if isinstance(value, (tuple, list)):
        return type(value)(_on_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: _on_meta(v) for k, v in value.items()}
    return value


def _check_like(result, val) -> None:
    if isinstance(val, torch.Tensor):
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(val.shape) \
                or result.dtype != val.dtype:
            raise Untraceable("the kernel's result differs from the graph's shape or dtype")
        return
    if not isinstance(result, (tuple, list)) or len(result) != len(val):
        raise Untraceable("the kernel returned another number of results")
    for r, v in zip(result, val):
        if v is not None:
            _check_like(r, v)


# ---------------------------------------------------------------------------------- the program

@dataclass
class Program:
    """The compiled graph: segments and eager nodes in graph order."""
    steps: list
    placeholders: list
    outputs: list
    device: torch.device
    frees: list = field(default_factory=list)   # per step: nodes whose last use it was
    counts: Counter = field(default_factory=Counter)
    eager_ops: Counter = field(default_factory=Counter)    # op -> nodes run eagerly
    reasons: dict = field(default_factory=dict)           # op -> why it was not lowered

    constants: dict = field(default_factory=dict)  # get_attr nodes -> their tensors

    def __call__(self, *inputs):
        env = dict(zip(self.placeholders, inputs))
        env.update(self.constants)
        for step, dead in zip(self.steps, self.frees):
            step.run(env, self.device)
            for node in dead:
                env.pop(node, None)
        return [map_arg(o, lambda n: env[n]) if o is not None else None for o in self.outputs]

    def summary(self) -> dict:
        return {**self.counts, "eager_ops": dict(self.eager_ops), "reasons": dict(self.reasons)}


def compile_graph(gm: torch.fx.GraphModule, example_inputs):
    """`Backend.compile_graph` of the onnxruntime backend (see the module docstring); None when
    the graph has symbolic shapes."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    with unset_fake_temporarily():    # AOTAutograd calls compilers under its fake mode
        return _compile(gm, example_inputs)


def _compile(gm: torch.fx.GraphModule, example_inputs):
    nodes = list(gm.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if not all(_is_static(n.meta.get("val")) for n in nodes if n.op in ("placeholder", "call_function")):
        return None
    device = next((t.device for t in example_inputs if isinstance(t, torch.Tensor) and t.device.type == "deeplink"),
                  torch.device("deeplink"))
    steps, owner = [], {}
    segment = None
    for node in nodes:
        if node.op != "call_function":
            continue
        if node.target is operator.getitem and node.args[0] in owner and isinstance(owner[node.args[0]], Segment):
            seg = owner[node.args[0]]
            seg.metas[node] = seg.metas[node.args[0]][node.args[1]]
            seg.nodes.append(node)
            owner[node] = seg
            continue
        if segment is None:
            segment = Segment(len(steps))
        try:
            segment.metas[node] = _lower(segment, node)
            segment.nodes.append(node)
            owner[node] = segment
        except Exception as exc:        # Untraceable, or a kernel that fails on meta tensors
            reason = str(exc) if isinstance(exc, Untraceable) else f"{type(exc).__name__}: {exc}"
            eager = EagerNode(node, reason)
            owner[node] = eager
            if any(owner.get(n) is segment for n in node.all_input_nodes):
                steps += [segment, eager]   # it reads the open segment: runs after it
                segment = None
            else:
                steps.append(eager)         # runs before the open segment, which stays open
                segment = _fresh(segment)
    if segment is not None and segment.nodes:
        steps.append(segment)
    program = _assemble(gm, steps, owner, placeholders, device)
    for key, n in program.counts.items():
        TOTALS[key] += n
    EAGER_OPS.update(program.eager_ops)
    return program


def _fresh(segment: Segment) -> Segment:
    """The open segment after a failed lowering: kept when it has nodes, else a clean one (the
    failed kernel may have left nodes and bindings in it)."""
    return segment if segment.nodes else None


def _assemble(gm, steps, owner, placeholders, device) -> Program:
    nodes = list(gm.graph.nodes)
    output = next(n for n in nodes if n.op == "output")
    results = list(output.args[0]) if isinstance(output.args[0], (tuple, list)) else [output.args[0]]
    # A segment outputs what any later step or the graph's output reads.
    for step in steps:
        if not isinstance(step, Segment):
            continue
        inside = set(step.nodes)
        wanted = [n for n in step.nodes
                  if isinstance(n.meta.get("val"), torch.Tensor)
                  and any(u not in inside for u in n.users)]
        step.finish(wanted)
    # Last uses, so intermediate tensors are freed as soon as no step needs them.
    index = {}
    for i, step in enumerate(steps):
        reads = [b.node for b in step.inputs] if isinstance(step, Segment) else step.node.all_input_nodes
        for n in reads:
            index[n] = i
    keep = {n for r in results if isinstance(r, torch.fx.Node) for n in [r]}
    frees = [[] for _ in steps]
    for n, i in index.items():
        if n not in keep:
            frees[i].append(n)
    counts = Counter(graphs=1, segments=sum(isinstance(s, Segment) for s in steps),
                     lowered_nodes=sum(len(s.nodes) for s in steps if isinstance(s, Segment)),
                     eager_nodes=sum(isinstance(s, EagerNode) for s in steps))
    eager_ops = Counter(str(s.node.target) for s in steps if isinstance(s, EagerNode))
    reasons = {str(s.node.target): s.reason for s in steps if isinstance(s, EagerNode)}
    constants = {n: getattr(gm, n.target) for n in nodes if n.op == "get_attr"}
    return Program(steps, placeholders, results, device, frees, counts, eager_ops, reasons, constants)

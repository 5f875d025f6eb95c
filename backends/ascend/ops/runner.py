"""Runs the op table: binds an aten call, allocates its outputs, resolves the table's argument
references into aclnn arguments and launches the operator on the current stream.

Output shapes and dtypes come from the op's meta kernel (the same shape rules ATen applies on
every device), so the table only says how arguments map, never how shapes are computed. In-place
and out= forms write into the aliased input, as the schema's alias annotations say.

Where the kernel allocates and which stream it uses is a `DeviceContext`: on the deeplink device
that is torch.empty(device="deeplink") and the current deeplink stream; the emulator's
host-pointer harness (tests/ascend_emulator/device_tensors.py) supplies its own for tests without the core.
"""
from __future__ import annotations

from typing import Callable

import torch

from deeplink.dtypes import short_name
from deeplink.opset.names import op_overload

from .._vendor.acl import AscendError
from .._vendor.aclnn import AclnnApi, acl_dtype
from .spec import Op, Ref


class DeviceContext:
    """Where kernels get memory, streams and random seeds."""

    def is_device_tensor(self, t) -> bool:
        raise NotImplementedError

    def device_of(self, t) -> int:
        raise NotImplementedError

    def current_device(self) -> int:
        raise NotImplementedError

    def empty(self, shape, dtype, device: int):
        raise NotImplementedError

    def workspace(self, nbytes: int, device: int):
        return self.empty((nbytes,), torch.uint8, device)

    def stream(self, device: int) -> int:
        raise NotImplementedError

    def cpu_generator(self, generator, device: int) -> torch.Generator:
        raise NotImplementedError


class DeeplinkContext(DeviceContext):
    """Kernels running on deeplink tensors (the normal case)."""

    def __init__(self, runtime):
        self.runtime = runtime

    def is_device_tensor(self, t) -> bool:
        return t.device.type == "deeplink"

    def device_of(self, t) -> int:
        return t.device.index or 0

    def current_device(self) -> int:
        return torch.deeplink.current_device()

    def empty(self, shape, dtype, device: int):
        return torch.empty(tuple(shape), dtype=dtype, device=torch.device("deeplink", device))

    def stream(self, device: int) -> int:
        # Kernels also run on autograd's worker threads: make the device current on this thread.
        self.runtime.bind(device)
        import deeplink
        # The handle stream_create returned for the current deeplink stream (0: the default one).
        handle = deeplink._C._native_stream(device, torch.accelerator.current_stream(device).stream_id)
        return self.runtime.acl_stream(device, handle)

    def cpu_generator(self, generator, device: int) -> torch.Generator:
        # The deeplink generator of a non-passthrough backend wraps a CPU generator; kernels draw
        # their seeds from it (no public accessor exists yet).
        import deeplink
        return deeplink._C._inner_generator(generator, device)


class Bound:
    """One aten call: its arguments by name, its outputs, its device."""

    __slots__ = ("op", "overload", "args", "outs", "device", "runner")

    def __init__(self, op: Op, overload, runner: "Runner", args, kwargs):
        self.op = op
        self.overload = overload
        self.runner = runner
        schema = overload._schema
        values = {}
        for a, v in zip(schema.arguments, args):
            values[a.name] = v
        values.update(kwargs)
        for a in schema.arguments:
            if a.name not in values:
                values[a.name] = a.default_value if a.has_default_value() else None
        self.args = values
        self.outs = []
        self.device = runner.device_for(values)

    def is_host_scalar(self, x) -> bool:
        return isinstance(x, torch.Tensor) and x.dim() == 0 and not self.runner.ctx.is_device_tensor(x)

    def describe(self) -> str:
        parts = []
        for k, v in self.args.items():
            if isinstance(v, torch.Tensor):
                parts.append(f"{k}={tuple(v.shape)}:{short_name(v.dtype)}")
            elif isinstance(v, (list, tuple)) and v and isinstance(v[0], torch.Tensor):
                parts.append(f"{k}=[{len(v)} tensors]")
        return f"aten::{self.op.aten}({', '.join(parts)}) on the ascend backend, device {self.device}"


# aclCreateTensor takes at most 8 dimensions (CANN aclnn API reference); a call with more is
# declined, so it runs on the CPU fallback instead of failing in the library.
MAX_RANK = 8


def _over_max_rank(values) -> bool:
    for v in values:
        if isinstance(v, torch.Tensor) and v.dim() > MAX_RANK:
            return True
        if isinstance(v, (list, tuple)) and any(isinstance(t, torch.Tensor) and t.dim() > MAX_RANK for t in v):
            return True
    return False


def _to_meta(x, ctx):
    if isinstance(x, torch.Tensor):
        if x.dim() == 0 and not ctx.is_device_tensor(x):
            return x  # a wrapped number: keep it (it takes part in type promotion as a number)
        return torch.empty_strided(tuple(x.shape), tuple(x.stride()), dtype=x.dtype, device="meta")
    if isinstance(x, (list, tuple)):
        return type(x)(_to_meta(v, ctx) for v in x)
    return x


class Runner:
    """Turns op-table entries into kernels and launches aclnn operators."""

    def __init__(self, api: AclnnApi, ctx: DeviceContext, allow_hf32: bool = False):
        self.api = api
        self.ctx = ctx
        self.cube_math_type = 1 if allow_hf32 else 0  # 0 KEEP_DTYPE: fp32 matmuls stay fp32
        self._output_specs: dict = {}  # output shapes/dtypes per call signature (meta kernels are slow)

    # -- kernels -------------------------------------------------------------------------------
    def kernel(self, op: Op) -> Callable:
        overload = resolve_overload(op.aten)

        def fn(*args, **kwargs):
            b = Bound(op, overload, self, args, kwargs)
            if (op.supports is not None and op.supports(b)) or _over_max_rank(b.args.values()):
                return NotImplemented  # the dispatcher counts it and falls back
            for adapt in op.prepare:
                adapt(b)
            if op.run is not None:
                return op.run(b)
            aclnn, refs = op.aclnn, op.args
            for v in op.variants:
                if v.when(b):
                    aclnn, refs = v.aclnn, v.args
                    break
            result = self.allocate_outputs(b)
            try:
                self.launch(aclnn, b.device, lambda c: [self.resolve(r, b, c) for r in refs], b.describe)
            except (TypeError, ValueError, RuntimeError) as e:
                if isinstance(e, AscendError):
                    raise
                raise type(e)(f"{b.describe()} -> {aclnn}: {e}") from e
            return result

        fn.__name__ = f"ascend_{op.aten.replace('.', '_')}"
        fn.__qualname__ = fn.__name__
        fn.__doc__ = f"aten::{op.aten} -> {', '.join(op.aclnn_functions) or 'composite'}"
        return fn

    def device_for(self, values) -> int:
        for v in values.values():
            if isinstance(v, torch.Tensor) and self.ctx.is_device_tensor(v):
                return self.ctx.device_of(v)
            if isinstance(v, (list, tuple)):
                for t in v:
                    if isinstance(t, torch.Tensor) and self.ctx.is_device_tensor(t):
                        return self.ctx.device_of(t)
        dev = values.get("device")
        if isinstance(dev, torch.device) and dev.index is not None:
            return dev.index
        return self.ctx.current_device()

    def allocate_outputs(self, b: Bound):
        """Allocates b.outs from the op's meta kernel and returns what the aten op returns."""
        schema = b.overload._schema
        key = self._shape_key(b)
        specs = self._output_specs.get(key) if key is not None else None
        if specs is None:
            specs = self._infer_outputs(b)
            if key is not None and len(self._output_specs) < 65536:
                self._output_specs[key] = specs
        aliases = {}
        for a in schema.arguments:
            if a.alias_info is not None and a.alias_info.is_write:
                aliases[frozenset(a.alias_info.before_set)] = b.args[a.name]
        outs = []
        for r, spec in zip(schema.returns, specs):
            if r.alias_info is not None and r.alias_info.is_write:
                t = aliases[frozenset(r.alias_info.before_set)]
                if spec is not None and spec[0] == "tensor" and tuple(t.shape) != spec[1]:
                    t.resize_(spec[1])  # out= arguments take the result's shape, as in ATen
                outs.append(t)
            elif spec is not None and spec[0] == "tensor":
                outs.append(self.ctx.empty(spec[1], spec[2], b.device))
            else:
                outs.append(spec[1] if spec is not None else None)  # a non-tensor value, or no output
        b.outs = outs
        if len(schema.returns) == 0:
            return None
        return outs[0] if len(schema.returns) == 1 else tuple(outs)

    def _infer_outputs(self, b: Bound) -> list:
        """[("tensor", shape, dtype) | ("value", v) | None] per return, from the meta kernel."""
        schema = b.overload._schema
        pos, kw = [], {}
        for a in schema.arguments:
            v = _to_meta(b.args[a.name], self.ctx)
            if a.name == "device" and v is not None:
                v = torch.device("meta")
            if a.kwarg_only:
                kw[a.name] = v
            else:
                pos.append(v)
        meta = b.overload(*pos, **kw)
        metas = list(meta) if isinstance(meta, (tuple, list)) and len(schema.returns) != 1 else [meta]
        specs = []
        for m in metas:
            if isinstance(m, torch.Tensor):
                specs.append(("tensor", tuple(m.shape), m.dtype))
            elif m is None:
                specs.append(None)
            else:
                specs.append(("value", m))
        return specs

    def _shape_key(self, b: Bound):
        """What output shapes and dtypes can depend on: tensor shapes, strides and dtypes, the
        values of all other arguments. None when an argument is not hashable (no caching)."""
        parts = [b.op.aten]
        for v in b.args.values():
            if isinstance(v, torch.Tensor):
                if b.is_host_scalar(v):
                    parts.append(("scalar", v.dtype, v.item()))
                else:
                    parts.append((tuple(v.shape), tuple(v.stride()), v.dtype))
            elif isinstance(v, (list, tuple)):
                parts.append(tuple((tuple(t.shape), t.dtype) if isinstance(t, torch.Tensor) else t for t in v))
            else:
                parts.append(v)
        try:
            hash(tuple(parts))
        except TypeError:
            return None
        return tuple(parts)

    # -- arguments -----------------------------------------------------------------------------
    def resolve(self, r: Ref, b: Bound, c):
        if r.fn is not None:
            v = r.fn(b)
        elif r.out is not None:
            v = b.outs[r.out]
        elif r.name is not None:
            v = b.args.get(r.name)
        else:
            v = r.value
        code = r.code
        if code == "T":
            if v is None:
                if r.optional:
                    return None
                raise ValueError(f"{b.describe()}: {r.describe()} is required by {b.op.aclnn}")
            if b.is_host_scalar(v):
                v = self.device_scalar(v, b)
            return c.tensor(v, r.describe())
        if code == "L":
            return c.tensor_list([self.device_scalar(t, b) if b.is_host_scalar(t) else t for t in v], r.describe())
        if code == "S":
            if v is None and r.optional:
                return None
            return c.scalar(v, what=r.describe())
        if code == "IA":
            if v is None and r.optional:
                return None
            return c.int_array([v] if isinstance(v, int) else v, r.describe())
        if code == "BA":
            return c.bool_array(v, r.describe())
        if code == "dt":
            return acl_dtype(v)
        if code == "str":
            return v.encode()
        if code == "b":
            return bool(v)
        if code in ("f64", "f32"):
            return float(v)
        return int(v)

    def device_scalar(self, x, b: Bound):
        """A device 0-dim tensor holding a Python number that arrived as a CPU wrapped scalar, in the
        dtype the computation promotes to."""
        others = [v for v in b.args.values() if isinstance(v, torch.Tensor) and self.ctx.is_device_tensor(v)]
        dtype = torch.result_type(others[0], x) if others else x.dtype
        t = self.ctx.empty((), dtype, b.device)
        self.fill(t, x.item())
        return t

    # -- launching ------------------------------------------------------------------------------
    def launch(self, aclnn: str, device: int, build_args: Callable, context=""):
        stream = self.ctx.stream(device)
        with self.api.call(aclnn, stream, lambda n: self.ctx.workspace(n, device), context) as c:
            c.launch(*build_args(c))

    # -- building blocks for composite kernels ---------------------------------------------------
    def empty(self, shape, dtype, device: int):
        return self.ctx.empty(shape, dtype, device)

    def empty_like(self, t, dtype=None):
        return self.ctx.empty(t.shape, dtype or t.dtype, self.ctx.device_of(t))

    def copy_(self, dst, src):
        """Strided, dtype-converting, broadcasting device copy (aclnnInplaceCopy)."""
        if dst.numel() == 0:
            return dst
        self.launch("aclnnInplaceCopy", self.ctx.device_of(dst),
                    lambda c: [c.tensor(dst, "selfRef"), c.tensor(src, "src")], "copy_")
        return dst

    def cast(self, t, dtype):
        if t.dtype == dtype:
            return t
        out = self.empty_like(t, dtype)
        if t.numel():
            self.launch("aclnnCast", self.ctx.device_of(t),
                        lambda c: [c.tensor(t, "self"), acl_dtype(dtype), c.tensor(out, "out")], f"cast to {dtype}")
        return out

    def contiguous(self, t):
        return t if t.is_contiguous() else self.copy_(self.empty_like(t), t)

    def fill(self, t, value):
        if t.numel():
            self.launch("aclnnInplaceFillScalar", self.ctx.device_of(t),
                        lambda c: [c.tensor(t, "selfRef"), c.scalar(value, what="value")], "fill_")
        return t

    def zero(self, t):
        if t.numel():
            self.launch("aclnnInplaceZero", self.ctx.device_of(t), lambda c: [c.tensor(t, "selfRef")], "zero_")
        return t

    def random_seed(self, generator, device: int) -> tuple[int, int]:
        """(seed, offset) for one random kernel, drawn from the device's generator so that
        torch.manual_seed makes the device's random streams reproducible."""
        gen = self.ctx.cpu_generator(generator, device)
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=gen).item())
        return seed, 0


def resolve_overload(name: str):
    """The OpOverload of a table entry; AttributeError if this torch lacks it."""
    op = op_overload(name)
    if op is None:
        raise AttributeError(f"this torch has no aten overload {name!r}")
    return op

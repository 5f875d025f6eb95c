"""Variants of golden OpInfo samples, as PyTorch's own op tests run them (test_ops.py): the same
call with non-contiguous, transposed or channels_last inputs, with extremal values or ties, as the
in-place variant and as the out= variant.

A kernel that reads a strided input as if it were contiguous, an in-place op that never writes
`self`, an out= op that ignores `out`, a max that drops NaN: each passes every plain golden sample
and fails here. Golden CUDA data covers only the plain samples, so the reference of a variant is
ATen CPU in float64 on the very same inputs (outputs rounded to the dtype the op returns), and the
report labels it `aten-cpu-float64` (`aten-cpu` where the op has no float64 kernel).

    variant_cases(golden, dtype, selected, skip_ops) -> [Case]   (parent, cheap: shapes only)
    VariantProgram(case)                                     (worker: execute(device) / check)
"""
from __future__ import annotations

import torch
from torch.utils._pytree import tree_flatten

from .compare import Comparison, compare_leaf, compare_trees

REF_FLOAT64 = "aten-cpu-float64"
REF_SAME_DTYPE = "aten-cpu"

# Variants a sample can have, in the order cases are listed:
#   strided        every tensor input of 2+ elements is a step-2 view at storage offset 1
#   transposed     every 2-D+ input is column-major in its last two dims
#   channels_last  4-D / 5-D inputs in channels_last(_3d) memory format
#   expanded       inputs are their first row expanded (stride 0 in dim 0, as broadcasting makes)
#   extremal       floating inputs carry nan, inf, -inf and -0.0 (NaN propagation)
#   ties           floating inputs rounded to a few integers (tie-breaking of indices)
#   inplace        the OpInfo's in-place variant: self is written, and returned
#   out            the out= variant with an empty out tensor: out is resized, written, returned
LAYOUTS = ("strided", "transposed", "channels_last", "expanded")
VALUES = ("extremal", "ties", "expanded")      # expanded changes values (rows repeat) and layout
VARIANTS = ("strided", "transposed", "channels_last", "expanded", "extremal", "ties", "inplace", "out")

# Ops whose tie-breaking among equal values PyTorch documents (the first index) and CUDA follows;
# sort/topk order among ties is unspecified (stable=True samples aside), so ties run only here.
TIE_DOCUMENTED = frozenset({"argmax", "argmin", "max.reduction_with_dim", "min.reduction_with_dim"})

SAMPLES_PER_OP = 3      # variants run on up to this many samples of an OpInfo (first, middle, last)


def _tensors(sample) -> list[torch.Tensor]:
    return [t for t in tree_flatten((sample["input"], sample["args"], sample["kwargs"]))[0]
            if isinstance(t, torch.Tensor)]


def _spread(indices: list[int], n: int) -> list[int]:
    if len(indices) <= n:
        return indices
    return sorted({indices[round(i * (len(indices) - 1) / (n - 1))] for i in range(n)})


def applicable(sample, key: str, opinfo) -> list[str]:
    """The variants that change something for this sample (decided from shapes and the OpInfo)."""
    ts = _tensors(sample)
    if not ts or any(t.layout != torch.strided or t.is_quantized for t in ts):
        return []         # sparse / quantized inputs: no strided layout to vary
    out = []
    if any(t.numel() > 1 for t in ts):
        out.append("strided")
    if any(t.dim() >= 2 and t.shape[-1] > 1 and t.shape[-2] > 1 for t in ts):
        out.append("transposed")
    if any(t.dim() in (4, 5) and t.numel() > 1 for t in ts):
        out.append("channels_last")
    if any(t.dim() >= 1 and t.shape[0] > 1 for t in ts):
        out.append("expanded")
    floating = [t for t in ts if t.is_floating_point() and t.numel() > 0]
    if floating:
        out.append("extremal")
        if key in TIE_DOCUMENTED:
            out.append("ties")
    inp = sample["input"]
    if opinfo is not None and isinstance(inp, torch.Tensor):
        if getattr(opinfo, "inplace_variant", None) is not None:
            out.append("inplace")
        if getattr(opinfo, "supports_out", False):
            out.append("out")
    return out


def _overload(name: str):
    base, _, overload = name.partition(".")
    packet = getattr(torch.ops.aten, base, None)
    if packet is None or (overload or "default") not in packet.overloads():
        return None
    return getattr(packet, overload or "default")


def _signature(schema, skip_written: bool) -> list[tuple[str, str]]:
    return [(a.name, str(a.type)) for a in schema.arguments
            if not (skip_written and a.kwarg_only and a.alias_info is not None and a.alias_info.is_write)]


def _out_overload(name: str) -> str | None:
    """The out= overload taking the same arguments as `name` (max.dim -> max.dim_max)."""
    op = _overload(name)
    if op is None:
        return None
    base = name.partition(".")[0]
    wanted = _signature(op._schema, False)
    for overload in getattr(torch.ops.aten, base).overloads():
        candidate = getattr(getattr(torch.ops.aten, base), overload)
        written = [a for a in candidate._schema.arguments
                   if a.kwarg_only and a.alias_info is not None and a.alias_info.is_write]
        if written and _signature(candidate._schema, True) == wanted:
            return f"{base}.{overload}"
    return None


def rolled_up_under(variant: str, aten: list[str]) -> list[str]:
    """The overloads a variant case reports on: the in-place / out overloads of the ones the plain
    sample reached (add.Tensor -> add_.Tensor / add.out), the plain ones for the other variants."""
    if variant not in ("inplace", "out"):
        return list(aten)
    mapped = []
    for name in aten:
        base, _, overload = name.partition(".")
        inplace = f"{base}_.{overload}" if overload else f"{base}_"
        found = (inplace if _overload(inplace) is not None else None) if variant == "inplace" \
            else _out_overload(name)
        if found and found not in mapped:
            mapped.append(found)
    return mapped or list(aten)


def variant_cases(golden: dict, dtype: str, selected, skip_ops: set[str]):
    from .cases import Case  # noqa: PLC0415
    from deeplink.opset.names import from_traced_all  # noqa: PLC0415
    from .opinfo_db import PROCESSED_OUTPUT, op_db_by_key  # noqa: PLC0415

    db = op_db_by_key()
    out = []
    for key, entry in golden["ops"].items():
        if not selected(key) or key in skip_ops or key in PROCESSED_OUTPUT or key not in db:
            continue
        usable = [i for i, s in enumerate(entry["samples"])
                  if "error" not in s and not s.get("processed") and _tensors(s)]
        for index in _spread(usable, SAMPLES_PER_OP):
            sample = entry["samples"][index]
            aten = from_traced_all(sample.get("aten", []))
            for variant in applicable(sample, key, db[key]):
                cid = f"variant/{variant}/{dtype}/{key}/{index}"
                payload = {"id": cid, "source": "variant", "kind": "forward", "variant": variant,
                           "dtype": dtype, "op": key, "name": entry["name"], "index": index,
                           "aten": aten, "sample": sample}
                out.append(Case(cid, "variant", "forward", dtype, key, index,
                                rolled_up_under(variant, aten), payload))
    return out


# ---------------------------------------------------------------------------------------------
# Worker side
# ---------------------------------------------------------------------------------------------

def _contiguous_strides(shape) -> list[int]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return strides[::-1]


def relayout(t: torch.Tensor, variant: str) -> torch.Tensor:
    """The same values as `t` (on t's device) in the memory layout the variant names."""
    if variant == "strided" and t.numel() > 1:
        buf = torch.zeros(2 * t.numel() + 1, dtype=t.dtype, device=t.device)
        view = buf.as_strided(t.shape, [2 * s for s in _contiguous_strides(t.shape)], 1)
        view.copy_(t)
        return view
    if variant == "transposed" and t.dim() >= 2 and t.shape[-1] > 1 and t.shape[-2] > 1:
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    if variant == "channels_last" and t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    if variant == "channels_last" and t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    if variant == "expanded" and t.dim() >= 1 and t.shape[0] > 1:
        return t[:1].expand(t.shape)
    return t


EXTREMAL = (float("nan"), float("inf"), float("-inf"), -0.0)


def revalue(t: torch.Tensor, variant: str, ordinal: int = 0) -> torch.Tensor:
    """CPU inputs with new values: rows repeating the first (expanded), extremal values at the
    first positions (rotated by the input's ordinal, so that two inputs never hold NaN at the same
    place: max(nan, x) must still be nan), or ties."""
    if variant == "expanded":
        return t[:1].expand(t.shape).clone() if t.dim() >= 1 and t.shape[0] > 1 else t
    if not t.is_floating_point() or t.numel() == 0:
        return t
    t = t.clone()
    flat = t.view(-1)
    if variant == "extremal":
        for i in range(min(len(EXTREMAL), flat.numel())):
            flat[i] = EXTREMAL[(i + ordinal) % len(EXTREMAL)]
    elif variant == "ties":
        flat.copy_((flat.double() / 4).round().clamp(-2, 2).to(t.dtype))
    return t


def _map(tree, fn):
    from .opinfo_programs import map_tensors  # noqa: PLC0415

    return map_tensors(tree, fn)


def _is_same_tensor(returned, given: torch.Tensor) -> bool:
    """The op returned the tensor it was given (self, out), not a new one."""
    return returned is given or (isinstance(returned, torch.Tensor) and returned.shape == given.shape
                                 and returned.data_ptr() == given.data_ptr())


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    a = a.detach().cpu()     # still on the device when a blame re-run ran the copy on ATen CPU
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return torch.equal(a, b)


class VariantProgram:
    check_kind = "value"

    def __init__(self, case: dict):
        from .case_errors import SkipCase  # noqa: PLC0415
        from .opinfo_db import get_opinfo, tolerance_overrides_cached  # noqa: PLC0415
        from .tolerance import for_case  # noqa: PLC0415

        self.case, self.variant = case, case["variant"]
        self.dtype = getattr(torch, case["dtype"])
        self.opinfo = get_opinfo(case["op"])
        self.tol = for_case(self.dtype, [case["op"]] + case.get("aten", []),
                            tolerance_overrides_cached(case["op"], self.dtype), "forward")
        s = case["sample"]
        self.inplace = self.variant == "inplace"
        try:      # a harness problem here is never the backend's: the case is `skip` with the reason
            tree = _map((s["input"], s["args"], s["kwargs"]), lambda t: t.detach().clone())
            if self.variant in VALUES:
                ordinal = iter(range(1 << 30))
                tree = _map(tree, lambda t: revalue(t, self.variant, next(ordinal)))
            self.inputs = tree
            self.expected, self.reference = self._reference()
        except Exception as e:  # noqa: BLE001  (ATen CPU refuses this variant of the sample)
            raise SkipCase(f"ATen CPU refuses the {self.variant} variant of this sample "
                           f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
        if self.variant == "out" and not all(isinstance(t, torch.Tensor) for t in self._outs(self.expected)):
            raise SkipCase("the out= variant needs tensor outputs")
        self.check_kind = {"inplace": "value (self written and returned)",
                           "out": "value (out resized, written and returned)"}.get(
                               self.variant, "value (inputs left unchanged)")

    @staticmethod
    def _outs(tree) -> list:
        return list(tree) if isinstance(tree, (tuple, list)) else [tree]

    def _call(self, inp, args, kwargs, out=None):
        if self.inplace:
            return self.opinfo.inplace_variant(inp, *args, **kwargs)
        if out is not None:
            return self.opinfo.op(inp, *args, **kwargs, out=out if len(out) > 1 else out[0])
        return self.opinfo.op(inp, *args, **kwargs)

    def _reference(self):
        """ATen CPU on the same values: in the case dtype (what the op returns: dtypes, structure,
        and the ATen CPU verdict on whether this variant is allowed at all), then in float64."""
        inp, args, kwargs = _map(self.inputs, lambda t: t.clone())
        same = self._call(inp, args, kwargs)
        if self.inplace:
            same = inp
        if not self.dtype.is_floating_point or self.dtype == torch.float64:
            return _map(same, lambda t: t.detach()), REF_SAME_DTYPE

        def up(t):
            return t.double() if t.dtype == self.dtype else t.clone()
        try:
            inp64, args64, kwargs64 = _map(self.inputs, up)
            wide = self.opinfo.op(inp64, *args64, **kwargs64)
        except Exception:  # noqa: BLE001  (no float64 kernel: the case dtype is the reference)
            return _map(same, lambda t: t.detach()), REF_SAME_DTYPE
        same_leaves, spec = tree_flatten(same)
        wide_leaves = tree_flatten(wide)[0]
        if len(same_leaves) != len(wide_leaves):
            return _map(same, lambda t: t.detach()), REF_SAME_DTYPE
        rounded = [w.detach().to(s.dtype) if isinstance(s, torch.Tensor) and isinstance(w, torch.Tensor)
                   and s.shape == w.shape else s for s, w in zip(same_leaves, wide_leaves)]
        return spec.unflatten(rounded), REF_FLOAT64

    def execute(self, device: str):
        from .opinfo_programs import to_cpu, to_device  # noqa: PLC0415

        inp, args, kwargs = to_device(self.inputs, device)
        if self.variant in LAYOUTS:
            inp, args, kwargs = _map((inp, args, kwargs), lambda t: relayout(t, self.variant))
        if self.inplace:
            result = self._call(inp, args, kwargs)
            return {"self": to_cpu(inp), "returned_self": _is_same_tensor(result, inp)}
        if self.variant == "out":
            outs = [torch.empty(0, dtype=t.dtype, device=device) for t in self._outs(self.expected)]
            result = self._call(inp, args, kwargs, out=outs)
            returned = self._outs(result)
            return {"out": to_cpu(outs), "returned_out": len(returned) == len(outs)
                    and all(_is_same_tensor(r, o) for r, o in zip(returned, outs))}
        result = self._call(inp, args, kwargs)
        return {"result": to_cpu(result), "inputs_after": to_cpu((inp, args, kwargs))}

    def check(self, got) -> Comparison:
        c = Comparison()
        if self.inplace:
            if not got["returned_self"]:
                c.fail("the in-place variant did not return self")
            c.merge(compare_leaf(got["self"], self.expected, self.tol, "self"))
            return c
        if self.variant == "out":
            if not got["returned_out"]:
                c.fail("the out= variant did not return the given out tensor(s)")
            c.merge(compare_trees(got["out"], self._outs(self.expected), self.tol, "out"))
            return c
        c.merge(compare_trees(got["result"], self.expected, self.tol))
        before, after = tree_flatten(self.inputs)[0], tree_flatten(got["inputs_after"])[0]
        for i, (b, a) in enumerate(zip(before, after)):
            if isinstance(b, torch.Tensor) and not _same(a, b):
                c.fail(f"input[{i}] was changed by the op (a functional op must leave its inputs alone)")
        return c

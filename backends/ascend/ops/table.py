"""The op map: aten overload -> aclnn operator, with the argument adaptation, as data.

Read an entry as "aten <name> calls <aclnn function>(<arguments in prototype order>)". Argument
codes are in spec.py (T tensor, OUT output, S scalar, IA int array, I64/U64/I8/F64/B numbers,
DT aclDataType). `variants` pick another aclnn function for some calls (a Python number where a
tensor was expected); `prepare` adapters rewrite arguments first (dtype casts where Ascend lacks
the dtype combination, default tensors aclnn requires); `supports` declines calls the operator
cannot take, which the dispatcher then runs by fallback; `run` names a composite kernel for ops
that take several aclnn calls (composites.py, attention.py).
"""
from __future__ import annotations

import torch

from . import attention, composites
from .spec import (ALL, B, BA, DT, F32, F64, FLOATS, FLOATS_NO_F64, I8, I32, I64, IA, INDEX, L, NUMERIC, OUT, S, STR, T,
                   U64, Op, arg, dims_or_all, out_dtype, scalar_variant)


# -- adapters (prepare=...) and small computed arguments ---------------------------------------------

def cube(b):
    """cubeMathType for the matmul family: keep fp32 exact unless HF32 was allowed."""
    return b.runner.cube_math_type


def upcast_half_to_float(b):
    """_softmax/_log_softmax(half_to_float=True): aclnnSoftmax writes out in self's dtype, so cast
    self to float32 on the device first (the result is float32, as aten asks)."""
    if b.args.get("half_to_float"):
        b.args["self"] = b.runner.cast(b.args["self"], torch.float32)
        b.args["half_to_float"] = False


def ones_class_weight(b):
    """aclnnNLLLoss/NLLLossBackward take a class weight tensor; aten's is optional (None = ones)."""
    if b.args.get("weight") is None:
        logits = b.args["self"]
        w = b.runner.empty((logits.size(-1),), logits.dtype, b.device)
        b.runner.fill(w, 1.0)
        b.args["weight"] = w


def drop_legacy_empty(b):
    """aten.cat skips 1-D empty tensors of any other rank ("legacy" empties); aclnnCat does not."""
    ts = b.args["tensors"]
    if any(t.dim() > 1 for t in ts):
        b.args["tensors"] = [t for t in ts if not (t.dim() == 1 and t.numel() == 0)]


def index_as_int64(*names):
    """aclnn index arguments take INT32/INT64; aten also lets other integer dtypes through (e.g. an
    empty uint8 index), so cast those to int64 on the device first."""
    def adapt(b):
        for n in names:
            t = b.args.get(n)
            if isinstance(t, torch.Tensor) and t.dtype not in INDEX:
                b.args[n] = b.runner.cast(t, torch.int64)
    return adapt


def draw_seed(b):
    b.args["_seed"], b.args["_offset"] = b.runner.random_seed(b.args.get("generator"), b.device)


def padding_idx_u64(b):
    # aclnn takes padding_idx as uint64_t; aten's "no padding" is -1, which wraps the same way C does.
    return b.args["padding_idx"] & 0xFFFFFFFFFFFFFFFF


ROUNDING = {None: 0, "trunc": 1, "floor": 2}   # aclnnDivMod `mode`
SCATTER_REDUCE = {"add": 1, "multiply": 2}       # aclnnScatter `reduce` (0 replaces)


GELU_APPROXIMATE = {"none": 0, "tanh": 1}   # aclnnGeluV2 `approximate` (int64); the backward takes the string


def gelu_mode(b):
    return GELU_APPROXIMATE[b.args.get("approximate") or "none"]


def gelu_mode_name(b):
    return b.args.get("approximate") or "none"


def _index_unsupported(b):
    idx = b.args["indices"]
    return any(i is None or i.dtype in (torch.bool, torch.uint8) for i in idx)


def _argmax_unsupported(b):
    return b.args.get("dim") is None and b.args.get("keepdim")


def flatten_when_no_dim(b):
    """argmax/argmin(dim=None) index the flattened tensor."""
    if b.args.get("dim") is None:
        b.args["self"] = b.args["self"].reshape(-1)
        b.args["dim"] = 0


def bias_sizes(b):
    """aclnnConvolutionBackward's biasSizes: the bias length when its gradient is wanted, else empty."""
    return list(b.args["bias_sizes"]) if b.args.get("bias_sizes") is not None else []


def _refs(*refs):
    return tuple(refs)


# -- entries -----------------------------------------------------------------------------------------

UNARY = {  # aten name: (aclnn suffix, dtypes)
    "abs": ("Abs", NUMERIC), "neg": ("Neg", NUMERIC), "exp": ("Exp", NUMERIC), "exp2": ("Exp2", NUMERIC),
    "expm1": ("Expm1", NUMERIC), "log": ("Log", NUMERIC), "log2": ("Log2", NUMERIC), "log10": ("Log10", NUMERIC),
    "log1p": ("Log1p", NUMERIC), "sqrt": ("Sqrt", NUMERIC), "rsqrt": ("Rsqrt", NUMERIC), "sin": ("Sin", NUMERIC),
    "cos": ("Cos", NUMERIC), "tan": ("Tan", NUMERIC), "tanh": ("Tanh", NUMERIC), "asin": ("Asin", NUMERIC),
    "acos": ("Acos", NUMERIC), "atan": ("Atan", NUMERIC), "sinh": ("Sinh", NUMERIC), "cosh": ("Cosh", NUMERIC),
    "asinh": ("Asinh", NUMERIC), "acosh": ("Acosh", NUMERIC), "atanh": ("Atanh", NUMERIC),
    "sigmoid": ("Sigmoid", FLOATS), "relu": ("Relu", NUMERIC), "silu": ("Silu", FLOATS),
    "erf": ("Erf", NUMERIC), "erfinv": ("Erfinv", FLOATS), "reciprocal": ("Reciprocal", NUMERIC),
    "floor": ("Floor", NUMERIC), "ceil": ("Ceil", NUMERIC), "round": ("Round", NUMERIC),
    "trunc": ("Trunc", NUMERIC), "sign": ("Sign", NUMERIC), "logical_not": ("LogicalNot", ALL),
    "bitwise_not": ("BitwiseNot", ALL),
}
INPLACE_UNARY = ("abs", "neg", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "silu",
                 "erf", "reciprocal", "floor", "ceil", "round", "trunc", "sign")

BINARY = {  # aten name: (aclnn tensor-tensor, aclnn tensor-scalar or None, dtypes)
    "mul": ("aclnnMul", "aclnnMuls", ALL), "div": ("aclnnDiv", "aclnnDivs", NUMERIC),
    "maximum": ("aclnnMaximum", None, ALL), "minimum": ("aclnnMinimum", None, ALL),
    "eq": ("aclnnEqTensor", "aclnnEqScalar", ALL), "ne": ("aclnnNeTensor", "aclnnNeScalar", ALL),
    "lt": ("aclnnLtTensor", "aclnnLtScalar", ALL), "le": ("aclnnLeTensor", "aclnnLeScalar", ALL),
    "gt": ("aclnnGtTensor", "aclnnGtScalar", ALL), "ge": ("aclnnGeTensor", "aclnnGeScalar", ALL),
    "logical_and": ("aclnnLogicalAnd", None, ALL), "logical_or": ("aclnnLogicalOr", None, ALL),
    "logical_xor": ("aclnnLogicalXor", None, ALL), "atan2": ("aclnnAtan2", None, NUMERIC),
    "remainder": ("aclnnRemainderTensorTensor", "aclnnRemainderTensorScalar", NUMERIC),
    "fmod": ("aclnnFmodTensor", "aclnnFmodScalar", NUMERIC),
    "bitwise_and": ("aclnnBitwiseAndTensor", None, ALL), "bitwise_or": ("aclnnBitwiseOrTensor", None, ALL),
    "bitwise_xor": ("aclnnBitwiseXorTensor", None, ALL),
}
# Overload names differ between ops: (tensor-tensor overload, tensor-scalar overload)
_OVERLOADS = {"mul": ("Tensor", "Scalar"), "div": ("Tensor", "Scalar"), "eq": ("Tensor", "Scalar"),
              "ne": ("Tensor", "Scalar"), "lt": ("Tensor", "Scalar"), "le": ("Tensor", "Scalar"),
              "gt": ("Tensor", "Scalar"), "ge": ("Tensor", "Scalar"), "remainder": ("Tensor", "Scalar"),
              "fmod": ("Tensor", "Scalar"), "bitwise_and": ("Tensor", None), "bitwise_or": ("Tensor", None),
              "bitwise_xor": ("Tensor", None)}


def _elementwise():
    ops = []
    for name, (suffix, dtypes) in UNARY.items():
        ops.append(Op(name, f"aclnn{suffix}", _refs(T("self"), OUT()), dtypes))
    for name in INPLACE_UNARY:
        suffix, dtypes = UNARY[name]
        ops.append(Op(f"{name}_", f"aclnn{suffix}", _refs(T("self"), T("self")), dtypes,
                      note="in place: self is both input and out"))
    tt = _refs(T("self"), T("other"), OUT())
    ts = _refs(T("self"), S("other"), OUT())
    for name, (fn_t, fn_s, dtypes) in BINARY.items():
        t_over, s_over = _OVERLOADS.get(name, (None, None))
        variants = (scalar_variant("other", fn_s, ts),) if fn_s else ()
        ops.append(Op(f"{name}.{t_over}" if t_over else name, fn_t, tt, dtypes, variants=variants))
        if s_over and fn_s:
            ops.append(Op(f"{name}.{s_over}", fn_s, ts, dtypes))
    alpha_tt = _refs(T("self"), T("other"), S("alpha"), OUT())
    alpha_ts = _refs(T("self"), S("other"), S("alpha"), OUT())
    for name, fn_t, fn_s in (("add", "aclnnAdd", "aclnnAdds"), ("sub", "aclnnSub", "aclnnSubs")):
        ops.append(Op(f"{name}.Tensor", fn_t, alpha_tt, ALL, variants=(scalar_variant("other", fn_s, alpha_ts),)))
        ops.append(Op(f"{name}.Scalar", fn_s, alpha_ts, ALL))
        ops.append(Op(f"{name}_.Tensor", f"aclnnInplace{fn_t[5:]}", _refs(T("self"), T("other"), S("alpha")), ALL,
                      variants=(scalar_variant("other", f"aclnnInplace{fn_s[5:]}",
                                               _refs(T("self"), S("other"), S("alpha"))),)))
        ops.append(Op(f"{name}_.Scalar", f"aclnnInplace{fn_s[5:]}", _refs(T("self"), S("other"), S("alpha")), ALL))
    for name, fn_t, fn_s in (("mul", "aclnnInplaceMul", "aclnnInplaceMuls"), ("div", "aclnnInplaceDiv", "aclnnInplaceDivs")):
        ops.append(Op(f"{name}_.Tensor", fn_t, _refs(T("self"), T("other")), ALL,
                      variants=(scalar_variant("other", fn_s, _refs(T("self"), S("other"))),)))
        ops.append(Op(f"{name}_.Scalar", fn_s, _refs(T("self"), S("other")), ALL))
    ops += [
        Op("div.Tensor_mode", "aclnnDivMod", _refs(T("self"), T("other"), I32(fn=lambda b: ROUNDING[b.args["rounding_mode"]]),
                                                  OUT()), NUMERIC),
        Op("pow.Tensor_Scalar", "aclnnPowTensorScalar", _refs(T("self"), S("exponent"), OUT()), NUMERIC),
        Op("pow.Tensor_Tensor", "aclnnPowTensorTensor", _refs(T("self"), T("exponent"), OUT()), NUMERIC,
           variants=(scalar_variant("exponent", "aclnnPowTensorScalar", _refs(T("self"), S("exponent"), OUT())),)),
        Op("pow.Scalar", "aclnnPowScalarTensor", _refs(S("self"), T("exponent"), OUT()), NUMERIC),
        # Not aclnnGelu: CANN documents it as the tanh approximation, whatever aten's mode.
        Op("gelu", "aclnnGeluV2", _refs(T("self"), I64(fn=gelu_mode), OUT()), FLOATS),
        Op("isnan", "aclnnNeTensor", _refs(T("self"), T("self"), OUT()), ALL, note="x != x holds exactly for NaN"),
        Op("where.self", "aclnnSWhere", _refs(T("condition"), T("self"), T("other"), OUT()), ALL),
        Op("clamp", "aclnnClamp", _refs(T("self"), S("min", optional=True), S("max", optional=True), OUT()), NUMERIC),
        Op("clamp.Tensor", "aclnnClampTensor", _refs(T("self"), T("min", optional=True), T("max", optional=True), OUT()),
           NUMERIC),
        Op("clamp_min", "aclnnClampMin", _refs(T("self"), S("min"), OUT()), NUMERIC),
        Op("clamp_max", "aclnnClampMax", _refs(T("self"), S("max"), OUT()), NUMERIC),
        Op("addcmul", "aclnnAddcmul", _refs(T("self"), T("tensor1"), T("tensor2"), S("value"), OUT()), NUMERIC),
        Op("addcdiv", "aclnnAddcdiv", _refs(T("self"), T("tensor1"), T("tensor2"), S("value"), OUT()), NUMERIC),
        Op("addcmul_", "aclnnInplaceAddcmul", _refs(T("self"), T("tensor1"), T("tensor2"), S("value")), NUMERIC),
        Op("addcdiv_", "aclnnInplaceAddcdiv", _refs(T("self"), T("tensor1"), T("tensor2"), S("value")), NUMERIC),
        Op("lerp.Scalar", "aclnnLerps", _refs(T("self"), T("end"), S("weight"), OUT()), FLOATS),
        Op("lerp.Tensor", "aclnnLerp", _refs(T("self"), T("end"), T("weight"), OUT()), FLOATS),
        Op("lerp_.Scalar", "aclnnInplaceLerps", _refs(T("self"), T("end"), S("weight")), FLOATS),
    ]
    return ops


def _memory():
    return [
        Op("fill_.Scalar", "aclnnInplaceFillScalar", _refs(T("self"), S("value")), ALL),
        Op("fill_.Tensor", "aclnnInplaceFillTensor", _refs(T("self"), T("value")), ALL,
           variants=(scalar_variant("value", "aclnnInplaceFillScalar", _refs(T("self"), S("value"))),)),
        Op("zero_", "aclnnInplaceZero", _refs(T("self")), ALL),
        Op("masked_fill_.Scalar", "aclnnInplaceMaskedFillScalar", _refs(T("self"), T("mask"), S("value")), ALL),
        Op("masked_fill_.Tensor", "aclnnInplaceMaskedFillTensor", _refs(T("self"), T("mask"), T("value")), ALL,
           variants=(scalar_variant("value", "aclnnInplaceMaskedFillScalar", _refs(T("self"), T("mask"), S("value"))),)),
        Op("arange.start_step", "aclnnArange", _refs(S("start"), S("end"), S("step"), OUT()), NUMERIC),
        Op("arange.start", "aclnnArange", _refs(S("start"), S("end"), S(value=1), OUT()), NUMERIC),
        Op("arange", "aclnnArange", _refs(S(value=0), S("end"), S(value=1), OUT()), NUMERIC),
        Op("cat", "aclnnCat", _refs(L("tensors"), I64("dim"), OUT()), ALL, prepare=(drop_legacy_empty,)),
        Op("constant_pad_nd", "aclnnConstantPadNd", _refs(T("self"), IA("pad"), S("value"), OUT()), ALL),
        *[Op(f"{mode}_pad{d}d", f"aclnn{mode.capitalize()}Pad{d}d", _refs(T("self"), IA("padding"), OUT()), NUMERIC)
          for mode in ("reflection", "replication") for d in (1, 2, 3)],
        *[Op(f"{mode}_pad{d}d_backward", f"aclnn{mode.capitalize()}Pad{d}dBackward",
             _refs(T("grad_output"), T("self"), IA("padding"), OUT()), FLOATS)
          for mode in ("reflection", "replication") for d in (1, 2)],
        Op("triu", "aclnnTriu", _refs(T("self"), I64("diagonal"), OUT()), ALL),
        Op("tril", "aclnnTril", _refs(T("self"), I64("diagonal"), OUT()), ALL),
        Op("flip", "aclnnFlip", _refs(T("self"), IA("dims"), OUT()), ALL),
        Op("index_select", "aclnnIndexSelect", _refs(T("self"), I64("dim"), T("index"), OUT()), ALL,
           prepare=(index_as_int64("index"),)),
        Op("gather", "aclnnGather", _refs(T("self"), I64("dim"), T("index"), OUT()), ALL,
           prepare=(index_as_int64("index"),)),
        Op("scatter_add", "aclnnScatterAdd", _refs(T("self"), I64("dim"), T("index"), T("src"), OUT()), ALL,
           prepare=(index_as_int64("index"),)),
        Op("scatter.src", "aclnnScatter", _refs(T("self"), I64("dim"), T("index"), T("src"), I64(value=0), OUT()), ALL,
           prepare=(index_as_int64("index"),)),
        Op("scatter.value", "aclnnScatterValue", _refs(T("self"), I64("dim"), T("index"), S("value"), I64(value=0),
                                                        OUT()), ALL, prepare=(index_as_int64("index"),)),
        Op("scatter.reduce", "aclnnScatter", _refs(T("self"), I64("dim"), T("index"), T("src"),
                                                   I64(fn=lambda b: SCATTER_REDUCE[b.args["reduce"]]), OUT()), ALL,
           prepare=(index_as_int64("index"),), supports=lambda b: b.args["reduce"] not in SCATTER_REDUCE),
        Op("index_put_", "aclnnIndexPutImpl", _refs(T("self"), L("indices"), T("values"), B("accumulate"), B(value=False)),
           ALL, supports=_index_unsupported),
        Op("_index_put_impl_", "aclnnIndexPutImpl", _refs(T("self"), L("indices"), T("values"), B("accumulate"),
                                                          B("unsafe")), ALL, supports=_index_unsupported),
        Op("slice_scatter", None, dtypes=ALL, run=composites.slice_scatter, aclnn_used=("aclnnInplaceCopy",)),
        Op("select_scatter", None, dtypes=ALL, run=composites.select_scatter, aclnn_used=("aclnnInplaceCopy",)),
        Op("index.Tensor", "aclnnIndex", _refs(T("self"), L("indices"), OUT()), ALL, supports=_index_unsupported,
           note="integer index tensors only (boolean masks have data-dependent shapes)"),
        Op("embedding", "aclnnEmbedding", _refs(T("weight"), T("indices"), OUT()), ALL,
           prepare=(index_as_int64("indices"),)),
        Op("embedding_dense_backward", "aclnnEmbeddingDenseBackward",
           _refs(T("grad_output"), T("indices"), U64("num_weights"), U64(fn=padding_idx_u64), B("scale_grad_by_freq"),
                 OUT()), FLOATS_NO_F64 | INDEX),
        Op("sort", "aclnnSort", _refs(T("self"), B(value=False), I64("dim"), B("descending"), OUT(0), OUT(1)), NUMERIC),
        Op("sort.stable", "aclnnSort", _refs(T("self"), B(fn=lambda b: bool(b.args.get("stable"))), I64("dim"),
                                            B("descending"), OUT(0), OUT(1)), NUMERIC),
        Op("topk", "aclnnTopk", _refs(T("self"), I64("k"), I64("dim"), B("largest"), B("sorted"), OUT(0), OUT(1)),
           NUMERIC),
    ]


def _reductions():
    sum_like = lambda fn: _refs(T("self"), IA(fn=dims_or_all("dim")), B(fn=arg("keepdim", False)),  # noqa: E731
                                DT(out_dtype(0)), OUT())
    keep = _refs(T("self"), IA(fn=dims_or_all("dim")), B(fn=arg("keepdim", False)), OUT())
    return [
        Op("sum.dim_IntList", "aclnnReduceSum", sum_like("dim"), ALL),
        Op("sum", "aclnnReduceSum", sum_like("dim"), ALL),
        Op("mean.dim", "aclnnMean", sum_like("dim"), FLOATS),
        Op("mean", "aclnnMean", sum_like("dim"), FLOATS),
        Op("amax", "aclnnAmax", keep, ALL),
        Op("amin", "aclnnAmin", keep, ALL),
        Op("max", "aclnnAmax", keep, ALL, note="max of all elements"),
        Op("min", "aclnnAmin", keep, ALL, note="min of all elements"),
        Op("all", "aclnnAll", keep, ALL), Op("all.dim", "aclnnAll", keep, ALL), Op("all.dims", "aclnnAll", keep, ALL),
        Op("any", "aclnnAny", keep, ALL), Op("any.dim", "aclnnAny", keep, ALL), Op("any.dims", "aclnnAny", keep, ALL),
        Op("argmax", "aclnnArgMax", _refs(T("self"), I64("dim"), B("keepdim"), OUT()), NUMERIC,
           supports=_argmax_unsupported, prepare=(flatten_when_no_dim,)),
        Op("argmin", "aclnnArgMin", _refs(T("self"), I64("dim"), B("keepdim"), OUT()), NUMERIC,
           supports=_argmax_unsupported, prepare=(flatten_when_no_dim,)),
        Op("max.dim", "aclnnMaxDim", _refs(T("self"), I64("dim"), B("keepdim"), OUT(0), OUT(1)), ALL),
        Op("min.dim", "aclnnMinDim", _refs(T("self"), I64("dim"), B("keepdim"), OUT(0), OUT(1)), ALL),
        Op("prod", "aclnnProd", _refs(T("self"), DT(out_dtype(0)), OUT()), ALL),
        Op("prod.dim_int", "aclnnProdDim", _refs(T("self"), I64("dim"), B("keepdim"), DT(out_dtype(0)), OUT()), ALL),
        Op("cumsum", "aclnnCumsum", _refs(T("self"), I64("dim"), DT(out_dtype(0)), OUT()), ALL),
        Op("_softmax", "aclnnSoftmax", _refs(T("self"), I64("dim"), OUT()), FLOATS, prepare=(upcast_half_to_float,)),
        Op("_log_softmax", "aclnnLogSoftmax", _refs(T("self"), I64("dim"), OUT()), FLOATS,
           prepare=(upcast_half_to_float,)),
        Op("_softmax_backward_data", "aclnnSoftmaxBackward", _refs(T("grad_output"), T("output"), I64("dim"), OUT()),
           FLOATS),
        Op("_log_softmax_backward_data", "aclnnLogSoftmaxBackward",
           _refs(T("grad_output"), T("output"), I64("dim"), OUT()), FLOATS),
    ]


def _nn():
    return [
        Op("mm", "aclnnMm", _refs(T("self"), T("mat2"), OUT(), I8(fn=cube)), FLOATS_NO_F64),
        # claimed at aten::convolution (whose meta kernel gives the output shape), so ATen's
        # convolution_overrideable hook is never reached
        Op("convolution", "aclnnConvolution",
           _refs(T("input"), T("weight"), T("bias", optional=True), IA("stride"), IA("padding"), IA("dilation"),
                 B("transposed"), IA("output_padding"), I64("groups"), OUT(), I8(fn=cube)), FLOATS_NO_F64),
        Op("convolution_backward", "aclnnConvolutionBackward",
           _refs(T("grad_output"), T("input"), T("weight"), IA(fn=bias_sizes), IA("stride"), IA("padding"),
                 IA("dilation"), B("transposed"), IA("output_padding"), I32("groups"), BA("output_mask"), I8(fn=cube),
                 OUT(0, optional=True), OUT(1, optional=True), OUT(2, optional=True)), FLOATS_NO_F64),
        Op("histc", "aclnnHistc", _refs(T("self"), I64("bins"), S("min"), S("max"), OUT()), NUMERIC),
        Op("bmm", "aclnnBatchMatMul", _refs(T("self"), T("mat2"), OUT(), I8(fn=cube)), FLOATS_NO_F64),
        Op("addmm", "aclnnAddmm", _refs(T("self"), T("mat1"), T("mat2"), S("beta"), S("alpha"), OUT(), I8(fn=cube)), FLOATS_NO_F64),
        Op("baddbmm", "aclnnBaddbmm", _refs(T("self"), T("batch1"), T("batch2"), S("beta"), S("alpha"), OUT(),
                                            I8(fn=cube)), FLOATS_NO_F64),
        Op("native_layer_norm", "aclnnLayerNorm",
           _refs(T("input"), IA("normalized_shape"), T("weight", optional=True), T("bias", optional=True), F64("eps"),
                 OUT(0), OUT(1), OUT(2)), FLOATS_NO_F64),
        Op("native_layer_norm_backward", "aclnnLayerNormBackward",
           _refs(T("grad_out"), T("input"), IA("normalized_shape"), T("mean"), T("rstd"), T("weight", optional=True),
                 T("bias", optional=True), BA("output_mask"), OUT(0, optional=True), OUT(1, optional=True),
                 OUT(2, optional=True)), FLOATS_NO_F64),
        Op("nll_loss_forward", "aclnnNLLLoss",
           _refs(T("self"), T("target"), T("weight"), I64("reduction"), I64("ignore_index"), OUT(0), OUT(1)),
           FLOATS_NO_F64 | INDEX | {torch.uint8}, prepare=(ones_class_weight,)),
        Op("nll_loss_backward", "aclnnNLLLossBackward",
           _refs(T("grad_output"), T("self"), T("target"), T("weight"), I64("reduction"), I64("ignore_index"),
                 T("total_weight"), OUT()), FLOATS_NO_F64 | INDEX | {torch.uint8}, prepare=(ones_class_weight,)),
        Op("silu_backward", "aclnnSiluBackward", _refs(T("grad_output"), T("self"), OUT()), FLOATS),
        Op("tanh_backward", "aclnnTanhBackward", _refs(T("grad_output"), T("output"), OUT()), FLOATS),
        Op("sigmoid_backward", "aclnnSigmoidBackward", _refs(T("grad_output"), T("output"), OUT()), FLOATS),
        Op("gelu_backward", "aclnnGeluBackwardV2", _refs(T("grad_output"), T("self"), STR(fn=gelu_mode_name), OUT()),
           FLOATS),
        Op("threshold_backward", "aclnnThresholdBackward", _refs(T("grad_output"), T("self"), S("threshold"), OUT()),
           NUMERIC),
        Op("uniform_", "aclnnInplaceUniform", _refs(T("self"), F64("from"), F64("to"), U64("_seed"), U64("_offset")),
           FLOATS, prepare=(draw_seed,)),
        Op("normal_", "aclnnInplaceNormal", _refs(T("self"), F32("mean"), F32("std"), I64("_seed"), I64("_offset")),
           FLOATS, prepare=(draw_seed,)),
        Op("bernoulli_.float", "aclnnInplaceBernoulli", _refs(T("self"), S("p"), I64("_seed"), I64("_offset")), ALL,
           prepare=(draw_seed,)),
        Op("native_dropout", None, dtypes=FLOATS, run=composites.native_dropout,
           aclnn_used=("aclnnInplaceBernoulli", "aclnnMul", "aclnnInplaceMuls", "aclnnCast", "aclnnInplaceCopy",
                       "aclnnInplaceFillScalar", "aclnnInplaceZero")),
        Op("native_dropout_backward", None, dtypes=FLOATS | {torch.bool}, run=composites.native_dropout_backward,
           aclnn_used=("aclnnMul", "aclnnInplaceMuls")),
        Op("slice_backward", None, dtypes=ALL, run=composites.slice_backward,
           aclnn_used=("aclnnInplaceZero", "aclnnInplaceCopy")),
    ]


def _foreach():
    c = composites
    return [
        Op("_foreach_add_.Scalar", None, dtypes=NUMERIC, run=c.foreach_add_scalar_, aclnn_used=("aclnnInplaceAdds",)),
        Op("_foreach_add_.Tensor", None, dtypes=NUMERIC, run=c.foreach_add_tensor_,
           aclnn_used=("aclnnInplaceAdd", "aclnnInplaceAdds")),
        Op("_foreach_add_.List", None, dtypes=NUMERIC, run=c.foreach_add_list_, aclnn_used=("aclnnInplaceAdd",)),
        Op("_foreach_mul_.Scalar", None, dtypes=NUMERIC, run=c.foreach_mul_scalar_, aclnn_used=("aclnnInplaceMuls",)),
        Op("_foreach_mul_.Tensor", None, dtypes=NUMERIC, run=c.foreach_mul_tensor_,
           aclnn_used=("aclnnInplaceMul", "aclnnInplaceMuls")),
        Op("_foreach_mul_.List", None, dtypes=NUMERIC, run=c.foreach_mul_list_, aclnn_used=("aclnnInplaceMul",)),
        Op("_foreach_div_.Scalar", None, dtypes=NUMERIC, run=c.foreach_div_scalar_, aclnn_used=("aclnnInplaceDivs",)),
        Op("_foreach_div_.ScalarList", None, dtypes=NUMERIC, run=c.foreach_div_scalarlist_,
           aclnn_used=("aclnnInplaceDivs",)),
        Op("_foreach_div_.List", None, dtypes=NUMERIC, run=c.foreach_div_list_, aclnn_used=("aclnnInplaceDiv",)),
        Op("_foreach_addcdiv_.Scalar", None, dtypes=FLOATS, run=c.foreach_addcdiv_scalar_,
           aclnn_used=("aclnnInplaceAddcdiv",)),
        Op("_foreach_addcdiv_.ScalarList", None, dtypes=FLOATS, run=c.foreach_addcdiv_scalarlist_,
           aclnn_used=("aclnnInplaceAddcdiv",)),
        Op("_foreach_addcmul_.Scalar", None, dtypes=FLOATS, run=c.foreach_addcmul_scalar_,
           aclnn_used=("aclnnInplaceAddcmul",)),
        Op("_foreach_addcmul_.ScalarList", None, dtypes=FLOATS, run=c.foreach_addcmul_scalarlist_,
           aclnn_used=("aclnnInplaceAddcmul",)),
        Op("_foreach_lerp_.Scalar", None, dtypes=FLOATS, run=c.foreach_lerp_scalar_,
           aclnn_used=("aclnnInplaceLerps",)),
        Op("_foreach_sqrt", None, dtypes=FLOATS, run=c.foreach_sqrt, aclnn_used=("aclnnSqrt",)),
        Op("_foreach_sqrt_", None, dtypes=FLOATS, run=c.foreach_sqrt_, aclnn_used=("aclnnSqrt",)),
    ]


def _attention():
    a = attention
    fa = a.FA_OPS + a.FA_HELPERS
    return [
        Op("_scaled_dot_product_efficient_attention", None, dtypes=FLOATS_NO_F64, run=a.efficient,
           supports=a.efficient_supports, aclnn_used=fa),
        Op("_scaled_dot_product_efficient_attention_backward", None, dtypes=FLOATS_NO_F64, run=a.efficient_backward,
           supports=a.efficient_backward_supports, aclnn_used=fa),
        Op("_scaled_dot_product_flash_attention", None, dtypes=FLOATS_NO_F64, run=a.flash, supports=a.flash_supports,
           aclnn_used=fa),
        Op("_scaled_dot_product_flash_attention_backward", None, dtypes=FLOATS_NO_F64, run=a.flash_backward,
           supports=a.flash_backward_supports, aclnn_used=fa),
        Op("_scaled_dot_product_cudnn_attention", None, dtypes=FLOATS_NO_F64, run=a.cudnn, supports=a.cudnn_supports,
           aclnn_used=fa),
        Op("_scaled_dot_product_cudnn_attention_backward", None, dtypes=FLOATS_NO_F64, run=a.cudnn_backward,
           supports=a.cudnn_backward_supports, aclnn_used=fa),
        Op("_scaled_dot_product_fused_attention_overrideable", None, dtypes=FLOATS_NO_F64, run=a.overrideable,
           supports=a.overrideable_supports, aclnn_used=fa),
        Op("_scaled_dot_product_fused_attention_overrideable_backward", None, dtypes=FLOATS_NO_F64,
           run=a.overrideable_backward, supports=a.overrideable_backward_supports, aclnn_used=fa),
        Op("_fused_sdp_choice", None, dtypes=None, run=a.fused_sdp_choice,
           note="picks the overrideable (FlashAttentionScore) path when it can take the call"),
    ]


FACTORY_ARGS = ("dtype", "layout", "device", "pin_memory")


def out_variants(ops) -> list:
    """The out= overload of every single-call entry (add.out, where.self_out, sum.IntList_out, ...):
    same aclnn call, with the outputs being the caller's `out` tensors. Found from the schemas: an
    out= overload has the functional overload's arguments (minus factory options) plus `out`."""
    import dataclasses

    from .runner import resolve_overload
    extra = []
    for op in ops:
        if op.run is not None or op.aclnn is None:
            continue
        try:
            functional = resolve_overload(op.aten)._schema
        except AttributeError:
            continue
        if any(a.alias_info is not None and a.alias_info.is_write for a in functional.arguments):
            continue  # in-place ops have no out= form
        packet = getattr(torch.ops.aten, op.aten.partition(".")[0])
        for name in packet.overloads():
            schema = getattr(packet, name)._schema
            outs = [a for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write]
            rest = [(a.name, str(a.type)) for a in schema.arguments if a not in outs]
            # factory options (dtype/device/...) of a factory function have no place in its out= form
            want = [(a.name, str(a.type)) for a in functional.arguments
                    if not (a.name in FACTORY_ARGS and (a.name, str(a.type)) not in rest)]
            if outs and all(a.kwarg_only for a in outs) and rest == want and \
                    len(schema.returns) == len(functional.returns):
                extra.append(dataclasses.replace(op, aten=f"{op.aten.partition('.')[0]}.{name}",
                                                 note=(op.note + " (out= form)").strip()))
    return extra


_BASE = _elementwise() + _memory() + _reductions() + _nn() + _foreach() + _attention()
OPS: tuple[Op, ...] = tuple(_BASE + out_variants(_BASE))

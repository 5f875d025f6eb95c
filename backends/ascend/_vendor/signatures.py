"""C prototypes of the aclnn operators the backend calls, as data.

Each aclnn operator is two functions (CANN "two-phase" API):
    aclnnStatus aclnnXxxGetWorkspaceSize(<parameters>, uint64_t *workspaceSize, aclOpExecutor **executor)
    aclnnStatus aclnnXxx(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream)
Only <parameters> differ; they are listed here, in order, with one code per C type:

    T   aclTensor*          (also optional tensors: pass NULL)
    L   aclTensorList*
    S   aclScalar*          (optional scalars: pass NULL)
    IA  aclIntArray*
    BA  aclBoolArray*
    i64 int64_t   u64 uint64_t   i32 int   i8 int8_t
    f64 double    f32 float      b bool    dt aclDataType    str char*

Parameter orders are taken from the CANN aclnn API reference (e.g. aclnnAdd(self, other, alpha,
out), aclnnMm(self, mat2, out, cubeMathType), aclnnFlashAttentionScore(query, key, value,
realShiftOptional, dropMaskOptional, paddingMaskOptional, attenMaskOptional, prefixOptional,
scaleValue, keepProb, preTokens, nextTokens, headNum, inputLayout, innerPrecise, sparseMode,
softmaxMaxOut, softmaxSumOut, softmaxOutOut, attentionOutOut)). The test suite checks this table
against the emulator's exported C parameter lists.
"""
from __future__ import annotations

import ctypes as C

_UNARY = ("Abs Neg Exp Exp2 Expm1 Log Log2 Log10 Log1p Sqrt Rsqrt Sin Cos Tan Tanh Asin Acos Atan Sinh Cosh "
          "Asinh Acosh Atanh Sigmoid Relu Silu Gelu Erf Erfinv Reciprocal Floor Ceil Round Trunc Sign "
          "LogicalNot BitwiseNot")
_BINARY = ("Mul Div Maximum Minimum EqTensor NeTensor LtTensor LeTensor GtTensor GeTensor LogicalAnd "
           "LogicalOr LogicalXor Atan2 RemainderTensorTensor FmodTensor PowTensorTensor BitwiseAndTensor "
           "BitwiseOrTensor BitwiseXorTensor")
_TENSOR_SCALAR = ("Muls Divs EqScalar NeScalar LtScalar LeScalar GtScalar GeScalar PowTensorScalar "
                  "RemainderTensorScalar FmodScalar ClampMin ClampMax")

SIGNATURES: dict[str, tuple[str, ...]] = {}
SIGNATURES.update({f"aclnn{n}": ("T", "T") for n in _UNARY.split()})
SIGNATURES.update({f"aclnn{n}": ("T", "T", "T") for n in _BINARY.split()})
SIGNATURES.update({f"aclnn{n}": ("T", "S", "T") for n in _TENSOR_SCALAR.split()})
SIGNATURES.update({
    "aclnnPowScalarTensor": ("S", "T", "T"),
    "aclnnAdd": ("T", "T", "S", "T"),
    "aclnnSub": ("T", "T", "S", "T"),
    "aclnnAdds": ("T", "S", "S", "T"),
    "aclnnSubs": ("T", "S", "S", "T"),
    "aclnnInplaceAdd": ("T", "T", "S"),
    "aclnnInplaceSub": ("T", "T", "S"),
    "aclnnInplaceAdds": ("T", "S", "S"),
    "aclnnInplaceSubs": ("T", "S", "S"),
    "aclnnInplaceMul": ("T", "T"),
    "aclnnInplaceDiv": ("T", "T"),
    "aclnnInplaceMuls": ("T", "S"),
    "aclnnInplaceDivs": ("T", "S"),
    "aclnnAddcmul": ("T", "T", "T", "S", "T"),
    "aclnnAddcdiv": ("T", "T", "T", "S", "T"),
    "aclnnInplaceAddcmul": ("T", "T", "T", "S"),
    "aclnnInplaceAddcdiv": ("T", "T", "T", "S"),
    "aclnnLerp": ("T", "T", "T", "T"),
    "aclnnLerps": ("T", "T", "S", "T"),
    "aclnnInplaceLerps": ("T", "T", "S"),
    "aclnnSWhere": ("T", "T", "T", "T"),
    "aclnnDivMod": ("T", "T", "i32", "T"),
    "aclnnClamp": ("T", "S", "S", "T"),
    "aclnnClampTensor": ("T", "T", "T", "T"),
    "aclnnCast": ("T", "dt", "T"),
    "aclnnInplaceCopy": ("T", "T"),
    "aclnnInplaceZero": ("T",),
    "aclnnInplaceOne": ("T",),
    "aclnnInplaceFillScalar": ("T", "S"),
    "aclnnInplaceFillTensor": ("T", "T"),
    "aclnnInplaceMaskedFillScalar": ("T", "T", "S"),
    "aclnnInplaceMaskedFillTensor": ("T", "T", "T"),
    # shape / indexing
    "aclnnArange": ("S", "S", "S", "T"),
    "aclnnConstantPadNd": ("T", "IA", "S", "T"),
    "aclnnCat": ("L", "i64", "T"),
    "aclnnTriu": ("T", "i64", "T"),
    "aclnnTril": ("T", "i64", "T"),
    "aclnnFlip": ("T", "IA", "T"),
    "aclnnIndexSelect": ("T", "i64", "T", "T"),
    "aclnnGather": ("T", "i64", "T", "T"),
    "aclnnScatterAdd": ("T", "i64", "T", "T", "T"),
    "aclnnIndex": ("T", "L", "T"),
    "aclnnEmbedding": ("T", "T", "T"),
    "aclnnEmbeddingDenseBackward": ("T", "T", "u64", "u64", "b", "T"),
    "aclnnScatter": ("T", "i64", "T", "T", "i64", "T"),
    "aclnnScatterValue": ("T", "i64", "T", "S", "i64", "T"),
    "aclnnIndexPutImpl": ("T", "L", "T", "b", "b"),
    "aclnnReflectionPad1d": ("T", "IA", "T"),
    "aclnnReflectionPad2d": ("T", "IA", "T"),
    "aclnnReflectionPad3d": ("T", "IA", "T"),
    "aclnnReplicationPad1d": ("T", "IA", "T"),
    "aclnnReplicationPad2d": ("T", "IA", "T"),
    "aclnnReplicationPad3d": ("T", "IA", "T"),
    "aclnnReflectionPad1dBackward": ("T", "T", "IA", "T"),
    "aclnnReflectionPad2dBackward": ("T", "T", "IA", "T"),
    "aclnnReplicationPad1dBackward": ("T", "T", "IA", "T"),
    "aclnnReplicationPad2dBackward": ("T", "T", "IA", "T"),
    "aclnnSort": ("T", "b", "i64", "b", "T", "T"),
    "aclnnTopk": ("T", "i64", "i64", "b", "b", "T", "T"),
    # reductions / softmax
    "aclnnReduceSum": ("T", "IA", "b", "dt", "T"),
    "aclnnMean": ("T", "IA", "b", "dt", "T"),
    "aclnnAmax": ("T", "IA", "b", "T"),
    "aclnnAmin": ("T", "IA", "b", "T"),
    "aclnnAll": ("T", "IA", "b", "T"),
    "aclnnAny": ("T", "IA", "b", "T"),
    "aclnnArgMax": ("T", "i64", "b", "T"),
    "aclnnArgMin": ("T", "i64", "b", "T"),
    "aclnnMaxDim": ("T", "i64", "b", "T", "T"),
    "aclnnMinDim": ("T", "i64", "b", "T", "T"),
    "aclnnCumsum": ("T", "i64", "dt", "T"),
    "aclnnProd": ("T", "dt", "T"),
    "aclnnProdDim": ("T", "i64", "b", "dt", "T"),
    "aclnnSoftmax": ("T", "i64", "T"),
    "aclnnLogSoftmax": ("T", "i64", "T"),
    "aclnnSoftmaxBackward": ("T", "T", "i64", "T"),
    "aclnnLogSoftmaxBackward": ("T", "T", "i64", "T"),
    # matmul / nn
    "aclnnMm": ("T", "T", "T", "i8"),
    "aclnnBatchMatMul": ("T", "T", "T", "i8"),
    "aclnnAddmm": ("T", "T", "T", "S", "S", "T", "i8"),
    "aclnnBaddbmm": ("T", "T", "T", "S", "S", "T", "i8"),
    "aclnnLayerNorm": ("T", "IA", "T", "T", "f64", "T", "T", "T"),
    "aclnnConvolution": ("T", "T", "T", "IA", "IA", "IA", "b", "IA", "i64", "T", "i8"),
    "aclnnConvolutionBackward": ("T", "T", "T", "IA", "IA", "IA", "IA", "b", "IA", "i32", "BA", "i8", "T", "T", "T"),
    "aclnnHistc": ("T", "i64", "S", "S", "T"),
    "aclnnLayerNormBackward": ("T", "T", "IA", "T", "T", "T", "T", "BA", "T", "T", "T"),
    "aclnnNLLLoss": ("T", "T", "T", "i64", "i64", "T", "T"),
    "aclnnNLLLossBackward": ("T", "T", "T", "T", "i64", "i64", "T", "T"),
    "aclnnSiluBackward": ("T", "T", "T"),
    "aclnnTanhBackward": ("T", "T", "T"),
    "aclnnSigmoidBackward": ("T", "T", "T"),
    "aclnnGeluBackward": ("T", "T", "T"),
    "aclnnGeluV2": ("T", "i64", "T"),                   # approximate: 0 none, 1 tanh
    "aclnnGeluBackwardV2": ("T", "T", "str", "T"),      # approximate: "none" / "tanh" (a string here)
    "aclnnThresholdBackward": ("T", "T", "S", "T"),
    "aclnnInplaceUniform": ("T", "f64", "f64", "u64", "u64"),
    "aclnnInplaceNormal": ("T", "f32", "f32", "i64", "i64"),
    "aclnnInplaceBernoulli": ("T", "S", "i64", "i64"),
    # fused attention
    "aclnnFlashAttentionScore": ("T", "T", "T", "T", "T", "T", "T", "IA", "f64", "f64", "i64", "i64", "i64",
                                 "str", "i64", "i64", "T", "T", "T", "T"),
    "aclnnFlashAttentionScoreGrad": ("T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "IA", "f64",
                                     "f64", "i64", "i64", "i64", "str", "i64", "i64", "T", "T", "T", "T"),
})

CTYPES = {
    "T": C.c_void_p, "L": C.c_void_p, "S": C.c_void_p, "IA": C.c_void_p, "BA": C.c_void_p,
    "i64": C.c_int64, "u64": C.c_uint64, "i32": C.c_int, "i8": C.c_int8, "f64": C.c_double,
    "f32": C.c_float, "b": C.c_bool, "dt": C.c_int, "str": C.c_char_p,
}

# C parameter types as spelled in prototypes -> codes above (used to compare with the emulator).
C_TYPE_CODES = {
    "aclTensor*": "T", "aclTensorList*": "L", "aclScalar*": "S", "aclIntArray*": "IA",
    "aclBoolArray*": "BA", "int64_t": "i64", "uint64_t": "u64", "int": "i32", "int8_t": "i8",
    "double": "f64", "float": "f32", "bool": "b", "aclDataType": "dt", "char*": "str",
}


def parse_c_parameters(params: str) -> tuple[str, ...]:
    """'(const aclTensor* self, int64_t dim, aclTensor* out)' -> ('T', 'i64', 'T')."""
    inner = params.strip()[1:-1]
    codes = []
    for p in filter(None, (x.strip() for x in inner.split(","))):
        words = p.replace("*", " * ").split()
        words = [w for w in words if w != "const"]
        ctype = "".join(words[:-1])  # drop the parameter name
        codes.append(C_TYPE_CODES[ctype])
    return tuple(codes)

// Elementwise aclnn operators of the emulator (prototypes as in the CANN aclnn API reference):
// unary math, binary/scalar arithmetic and comparisons, in-place forms, addcmul/addcdiv, lerp,
// where, clamp, cast, copy, fill, masked fill.
#include "emu_aten.h"

using namespace ascend_emu;

// out = f(self)
#define UNARY(NAME, DTYPES, EXPR)                                                   \
  ACLNN_OP(NAME, (const aclTensor* self, aclTensor* out), {                         \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");            \
    require_dtype("self", s, DTYPES);                                               \
    return plan({&s, &o}, [=](bool meta) {                                          \
      at::Tensor x = view(s, meta);                                                 \
      emit("out", view(o, meta), EXPR);                                             \
    });                                                                             \
  })

UNARY(aclnnAbs, kNumeric, at::abs(x))
UNARY(aclnnNeg, kNumeric, at::neg(x))
UNARY(aclnnExp, kNumeric, at::exp(x))
UNARY(aclnnExp2, kNumeric, at::exp2(x))
UNARY(aclnnExpm1, kNumeric, at::expm1(x))
UNARY(aclnnLog, kNumeric, at::log(x))
UNARY(aclnnLog2, kNumeric, at::log2(x))
UNARY(aclnnLog10, kNumeric, at::log10(x))
UNARY(aclnnLog1p, kNumeric, at::log1p(x))
UNARY(aclnnSqrt, kNumeric, at::sqrt(x))
UNARY(aclnnRsqrt, kNumeric, at::rsqrt(x))
UNARY(aclnnSin, kNumeric, at::sin(x))
UNARY(aclnnCos, kNumeric, at::cos(x))
UNARY(aclnnTan, kNumeric, at::tan(x))
UNARY(aclnnTanh, kNumeric, at::tanh(x))
UNARY(aclnnAsin, kNumeric, at::asin(x))
UNARY(aclnnAcos, kNumeric, at::acos(x))
UNARY(aclnnAtan, kNumeric, at::atan(x))
UNARY(aclnnSinh, kNumeric, at::sinh(x))
UNARY(aclnnCosh, kNumeric, at::cosh(x))
UNARY(aclnnAsinh, kNumeric, at::asinh(x))
UNARY(aclnnAcosh, kNumeric, at::acosh(x))
UNARY(aclnnAtanh, kNumeric, at::atanh(x))
UNARY(aclnnSigmoid, kFloatsD, at::sigmoid(x))
UNARY(aclnnRelu, kNumeric, at::relu(x))
UNARY(aclnnSilu, kFloatsD, at::silu(x))
// CANN's aclnnGelu is the tanh approximation (its operator doc gives 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))));
// the exact (erf) form is only reachable through aclnnGeluV2(approximate=0).
UNARY(aclnnGelu, kFloatsD, at::gelu(x, "tanh"))
UNARY(aclnnErf, kNumeric, at::erf(x))
UNARY(aclnnErfinv, kFloatsD, at::erfinv(x))
UNARY(aclnnReciprocal, kNumeric, at::reciprocal(x))
UNARY(aclnnFloor, kNumeric, at::floor(x))
UNARY(aclnnCeil, kNumeric, at::ceil(x))
UNARY(aclnnRound, kNumeric, at::round(x))
UNARY(aclnnTrunc, kNumeric, at::trunc(x))
UNARY(aclnnSign, kNumeric, at::sign(x))
UNARY(aclnnLogicalNot, kAll, at::logical_not(x))
UNARY(aclnnBitwiseNot, kAll, at::bitwise_not(x))

// aclnnGeluV2(x, approximate, y): approximate is int64_t, 0 = none (erf), 1 = tanh (CANN operator doc).
ACLNN_OP(aclnnGeluV2, (const aclTensor* x, int64_t approximate, aclTensor* y), {
  TensorDesc s = tensor_arg(x, "x"), o = tensor_arg(y, "y");
  require_dtype("x", s, kFloatsD);
  require(approximate == 0 || approximate == 1,
          "approximate must be 0 (none) or 1 (tanh), got " + std::to_string(approximate));
  const char* mode = approximate == 1 ? "tanh" : "none";
  return plan({&s, &o}, [=](bool meta) { emit("y", view(o, meta), at::gelu(view(s, meta), mode)); });
})

// out = f(self, other)
#define BINARY(NAME, DTYPES, EXPR)                                                  \
  ACLNN_OP(NAME, (const aclTensor* self, const aclTensor* other, aclTensor* out), { \
    TensorDesc s = tensor_arg(self, "self"), t = tensor_arg(other, "other");        \
    TensorDesc o = tensor_arg(out, "out");                                          \
    require_dtype("self", s, DTYPES);                                               \
    require_dtype("other", t, DTYPES);                                              \
    return plan({&s, &t, &o}, [=](bool meta) {                                      \
      at::Tensor x = view(s, meta), y = view(t, meta);                              \
      emit("out", view(o, meta), EXPR);                                             \
    });                                                                             \
  })

BINARY(aclnnMul, kAll, at::mul(x, y))
BINARY(aclnnDiv, kNumeric, at::div(x, y))
BINARY(aclnnMaximum, kAll, at::maximum(x, y))
BINARY(aclnnMinimum, kAll, at::minimum(x, y))
BINARY(aclnnEqTensor, kAll, at::eq(x, y))
BINARY(aclnnNeTensor, kAll, at::ne(x, y))
BINARY(aclnnLtTensor, kAll, at::lt(x, y))
BINARY(aclnnLeTensor, kAll, at::le(x, y))
BINARY(aclnnGtTensor, kAll, at::gt(x, y))
BINARY(aclnnGeTensor, kAll, at::ge(x, y))
BINARY(aclnnLogicalAnd, kAll, at::logical_and(x, y))
BINARY(aclnnLogicalOr, kAll, at::logical_or(x, y))
BINARY(aclnnLogicalXor, kAll, at::logical_xor(x, y))
BINARY(aclnnAtan2, kNumeric, at::atan2(x, y))
BINARY(aclnnRemainderTensorTensor, kNumeric, at::remainder(x, y))
BINARY(aclnnFmodTensor, kNumeric, at::fmod(x, y))
BINARY(aclnnPowTensorTensor, kNumeric, at::pow(x, y))
BINARY(aclnnBitwiseAndTensor, kAll, at::bitwise_and(x, y))
BINARY(aclnnBitwiseOrTensor, kAll, at::bitwise_or(x, y))
BINARY(aclnnBitwiseXorTensor, kAll, at::bitwise_xor(x, y))

// out = f(self, scalar other)
#define TENSOR_SCALAR(NAME, DTYPES, EXPR)                                           \
  ACLNN_OP(NAME, (const aclTensor* self, const aclScalar* other, aclTensor* out), { \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");            \
    ScalarValue v = scalar_arg(other, "other");                                     \
    require_dtype("self", s, DTYPES);                                               \
    return plan({&s, &o}, [=](bool meta) {                                          \
      at::Tensor x = view(s, meta);                                                 \
      at::Scalar c = to_scalar(v);                                                  \
      emit("out", view(o, meta), EXPR);                                             \
    });                                                                             \
  })

TENSOR_SCALAR(aclnnMuls, kAll, at::mul(x, c))
TENSOR_SCALAR(aclnnDivs, kNumeric, at::div(x, c))
TENSOR_SCALAR(aclnnEqScalar, kAll, at::eq(x, c))
TENSOR_SCALAR(aclnnNeScalar, kAll, at::ne(x, c))
TENSOR_SCALAR(aclnnLtScalar, kAll, at::lt(x, c))
TENSOR_SCALAR(aclnnLeScalar, kAll, at::le(x, c))
TENSOR_SCALAR(aclnnGtScalar, kAll, at::gt(x, c))
TENSOR_SCALAR(aclnnGeScalar, kAll, at::ge(x, c))
TENSOR_SCALAR(aclnnPowTensorScalar, kNumeric, at::pow(x, c))
TENSOR_SCALAR(aclnnRemainderTensorScalar, kNumeric, at::remainder(x, c))
TENSOR_SCALAR(aclnnFmodScalar, kNumeric, at::fmod(x, c))
TENSOR_SCALAR(aclnnClampMin, kNumeric, at::clamp_min(x, c))
TENSOR_SCALAR(aclnnClampMax, kNumeric, at::clamp_max(x, c))

ACLNN_OP(aclnnPowScalarTensor, (const aclScalar* self, const aclTensor* exponent, aclTensor* out), {
  ScalarValue v = scalar_arg(self, "self");
  TensorDesc e = tensor_arg(exponent, "exponent"), o = tensor_arg(out, "out");
  require_dtype("exponent", e, kNumeric);
  return plan({&e, &o}, [=](bool meta) { emit("out", view(o, meta), at::pow(to_scalar(v), view(e, meta))); });
})

// out = self +/- alpha * other
#define BINARY_ALPHA(NAME, FN)                                                                             \
  ACLNN_OP(NAME, (const aclTensor* self, const aclTensor* other, const aclScalar* alpha, aclTensor* out), { \
    TensorDesc s = tensor_arg(self, "self"), t = tensor_arg(other, "other"), o = tensor_arg(out, "out");  \
    ScalarValue a = scalar_arg(alpha, "alpha");                                                            \
    require_dtype("self", s, kAll);                                                                        \
    require_dtype("other", t, kAll);                                                                       \
    return plan({&s, &t, &o}, [=](bool meta) {                                                             \
      emit("out", view(o, meta), FN(view(s, meta), view(t, meta), to_scalar(a)));                          \
    });                                                                                                    \
  })
BINARY_ALPHA(aclnnAdd, at::add)
BINARY_ALPHA(aclnnSub, at::sub)

#define SCALAR_ALPHA(NAME, FN)                                                                             \
  ACLNN_OP(NAME, (const aclTensor* self, const aclScalar* other, const aclScalar* alpha, aclTensor* out), { \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");                                   \
    ScalarValue v = scalar_arg(other, "other"), a = scalar_arg(alpha, "alpha");                            \
    require_dtype("self", s, kAll);                                                                        \
    return plan({&s, &o}, [=](bool meta) {                                                                 \
      emit("out", view(o, meta), FN(view(s, meta), to_scalar(v), to_scalar(a)));                           \
    });                                                                                                    \
  })
SCALAR_ALPHA(aclnnAdds, at::add)
SCALAR_ALPHA(aclnnSubs, at::sub)

// In-place forms: selfRef is both the first input and the output.
#define INPLACE_ALPHA(NAME, FN)                                                                         \
  ACLNN_OP(NAME, (const aclTensor* selfRef, const aclTensor* other, const aclScalar* alpha), {          \
    TensorDesc s = tensor_arg(selfRef, "selfRef"), t = tensor_arg(other, "other");                     \
    ScalarValue a = scalar_arg(alpha, "alpha");                                                         \
    require_dtype("selfRef", s, kAll);                                                                  \
    return plan({&s, &t}, [=](bool meta) {                                                              \
      at::Tensor x = view(s, meta);                                                                     \
      emit("selfRef", x, FN(x, view(t, meta), to_scalar(a)));                                           \
    });                                                                                                 \
  })
INPLACE_ALPHA(aclnnInplaceAdd, at::add)
INPLACE_ALPHA(aclnnInplaceSub, at::sub)

#define INPLACE_SCALAR_ALPHA(NAME, FN)                                                                  \
  ACLNN_OP(NAME, (const aclTensor* selfRef, const aclScalar* other, const aclScalar* alpha), {          \
    TensorDesc s = tensor_arg(selfRef, "selfRef");                                                      \
    ScalarValue v = scalar_arg(other, "other"), a = scalar_arg(alpha, "alpha");                         \
    require_dtype("selfRef", s, kAll);                                                                  \
    return plan({&s}, [=](bool meta) {                                                                  \
      at::Tensor x = view(s, meta);                                                                     \
      emit("selfRef", x, FN(x, to_scalar(v), to_scalar(a)));                                            \
    });                                                                                                 \
  })
INPLACE_SCALAR_ALPHA(aclnnInplaceAdds, at::add)
INPLACE_SCALAR_ALPHA(aclnnInplaceSubs, at::sub)

#define INPLACE_BINARY(NAME, EXPR)                                                  \
  ACLNN_OP(NAME, (const aclTensor* selfRef, const aclTensor* other), {              \
    TensorDesc s = tensor_arg(selfRef, "selfRef"), t = tensor_arg(other, "other");  \
    require_dtype("selfRef", s, kAll);                                              \
    return plan({&s, &t}, [=](bool meta) {                                          \
      at::Tensor x = view(s, meta), y = view(t, meta);                              \
      emit("selfRef", x, EXPR);                                                     \
    });                                                                             \
  })
INPLACE_BINARY(aclnnInplaceMul, at::mul(x, y))
INPLACE_BINARY(aclnnInplaceDiv, at::div(x, y))

#define INPLACE_SCALAR(NAME, EXPR)                                                  \
  ACLNN_OP(NAME, (const aclTensor* selfRef, const aclScalar* other), {              \
    TensorDesc s = tensor_arg(selfRef, "selfRef");                                  \
    ScalarValue v = scalar_arg(other, "other");                                     \
    require_dtype("selfRef", s, kAll);                                              \
    return plan({&s}, [=](bool meta) {                                              \
      at::Tensor x = view(s, meta);                                                 \
      at::Scalar c = to_scalar(v);                                                  \
      emit("selfRef", x, EXPR);                                                     \
    });                                                                             \
  })
INPLACE_SCALAR(aclnnInplaceMuls, at::mul(x, c))
INPLACE_SCALAR(aclnnInplaceDivs, at::div(x, c))

// out = self + value * tensor1 (*|/) tensor2
#define ADDC(NAME, FN)                                                                                     \
  ACLNN_OP(NAME, (const aclTensor* self, const aclTensor* tensor1, const aclTensor* tensor2,              \
                  const aclScalar* value, aclTensor* out), {                                               \
    TensorDesc s = tensor_arg(self, "self"), a = tensor_arg(tensor1, "tensor1"), b = tensor_arg(tensor2, "tensor2"); \
    TensorDesc o = tensor_arg(out, "out");                                                                 \
    ScalarValue v = scalar_arg(value, "value");                                                            \
    require_dtype("self", s, kNumeric);                                                                    \
    return plan({&s, &a, &b, &o}, [=](bool meta) {                                                         \
      emit("out", view(o, meta), FN(view(s, meta), view(a, meta), view(b, meta), to_scalar(v)));           \
    });                                                                                                    \
  })
ADDC(aclnnAddcmul, at::addcmul)
ADDC(aclnnAddcdiv, at::addcdiv)

#define INPLACE_ADDC(NAME, FN)                                                                             \
  ACLNN_OP(NAME, (const aclTensor* selfRef, const aclTensor* tensor1, const aclTensor* tensor2,           \
                  const aclScalar* value), {                                                               \
    TensorDesc s = tensor_arg(selfRef, "selfRef"), a = tensor_arg(tensor1, "tensor1"), b = tensor_arg(tensor2, "tensor2"); \
    ScalarValue v = scalar_arg(value, "value");                                                            \
    require_dtype("selfRef", s, kNumeric);                                                                 \
    return plan({&s, &a, &b}, [=](bool meta) {                                                             \
      at::Tensor x = view(s, meta);                                                                        \
      emit("selfRef", x, FN(x, view(a, meta), view(b, meta), to_scalar(v)));                               \
    });                                                                                                    \
  })
INPLACE_ADDC(aclnnInplaceAddcmul, at::addcmul)
INPLACE_ADDC(aclnnInplaceAddcdiv, at::addcdiv)

ACLNN_OP(aclnnLerp, (const aclTensor* self, const aclTensor* end, const aclTensor* weight, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), e = tensor_arg(end, "end"), w = tensor_arg(weight, "weight");
  TensorDesc o = tensor_arg(out, "out");
  require_dtype("self", s, kFloatsD);
  return plan({&s, &e, &w, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::lerp(view(s, meta), view(e, meta), view(w, meta)));
  });
})

ACLNN_OP(aclnnLerps, (const aclTensor* self, const aclTensor* end, const aclScalar* weight, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), e = tensor_arg(end, "end"), o = tensor_arg(out, "out");
  ScalarValue w = scalar_arg(weight, "weight");
  require_dtype("self", s, kFloatsD);
  return plan({&s, &e, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::lerp(view(s, meta), view(e, meta), to_scalar(w)));
  });
})

ACLNN_OP(aclnnInplaceLerps, (const aclTensor* selfRef, const aclTensor* end, const aclScalar* weight), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), e = tensor_arg(end, "end");
  ScalarValue w = scalar_arg(weight, "weight");
  require_dtype("selfRef", s, kFloatsD);
  return plan({&s, &e}, [=](bool meta) {
    at::Tensor x = view(s, meta);
    emit("selfRef", x, at::lerp(x, view(e, meta), to_scalar(w)));
  });
})

ACLNN_OP(aclnnSWhere, (const aclTensor* condition, const aclTensor* self, const aclTensor* other, aclTensor* out), {
  TensorDesc c = tensor_arg(condition, "condition"), s = tensor_arg(self, "self"), t = tensor_arg(other, "other");
  TensorDesc o = tensor_arg(out, "out");
  require_dtype("condition", c, {ACL_BOOL, ACL_UINT8});
  return plan({&c, &s, &t, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::where(view(c, meta).to(at::kBool), view(s, meta), view(t, meta)));
  });
})

// mode: 0 true division, 1 trunc, 2 floor.
ACLNN_OP(aclnnDivMod, (const aclTensor* self, const aclTensor* other, int mode, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), t = tensor_arg(other, "other"), o = tensor_arg(out, "out");
  require(mode >= 0 && mode <= 2, "mode must be 0, 1 or 2, got " + std::to_string(mode));
  require_dtype("self", s, kNumeric);
  return plan({&s, &t, &o}, [=](bool meta) {
    c10::optional<c10::string_view> rm;
    if (mode == 1) rm = "trunc";
    if (mode == 2) rm = "floor";
    emit("out", view(o, meta), at::div(view(s, meta), view(t, meta), rm));
  });
})

ACLNN_OP(aclnnClamp, (const aclTensor* self, const aclScalar* clipValueMin, const aclScalar* clipValueMax, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  ScalarValue lo = scalar_arg(clipValueMin, "clipValueMin", true), hi = scalar_arg(clipValueMax, "clipValueMax", true);
  require(lo.dtype != ACL_DT_UNDEFINED || hi.dtype != ACL_DT_UNDEFINED, "clipValueMin and clipValueMax are both null");
  require_dtype("self", s, kNumeric);
  return plan({&s, &o}, [=](bool meta) {
    c10::optional<at::Scalar> a, b;
    if (lo.dtype != ACL_DT_UNDEFINED) a = to_scalar(lo);
    if (hi.dtype != ACL_DT_UNDEFINED) b = to_scalar(hi);
    emit("out", view(o, meta), at::clamp(view(s, meta), a, b));
  });
})

ACLNN_OP(aclnnClampTensor, (const aclTensor* self, const aclTensor* clipValueMin, const aclTensor* clipValueMax, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), lo = tensor_arg(clipValueMin, "clipValueMin", true);
  TensorDesc hi = tensor_arg(clipValueMax, "clipValueMax", true), o = tensor_arg(out, "out");
  require(present(lo) || present(hi), "clipValueMin and clipValueMax are both null");
  require_dtype("self", s, kNumeric);
  return plan({&s, &lo, &hi, &o}, [=](bool meta) {
    c10::optional<at::Tensor> a, b;
    if (present(lo)) a = view(lo, meta);
    if (present(hi)) b = view(hi, meta);
    emit("out", view(o, meta), at::clamp(view(s, meta), a, b));
  });
})

ACLNN_OP(aclnnCast, (const aclTensor* self, const aclDataType dtype, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  require(o.dtype == dtype, std::string("out dtype ") + dtype_name(o.dtype) + " differs from the requested " + dtype_name(dtype));
  require_dtype("self", s, kAll);
  return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), view(s, meta).to(scalar_type(dtype))); });
})

// Strided, dtype-converting, broadcasting copy of src into selfRef.
ACLNN_OP(aclnnInplaceCopy, (const aclTensor* selfRef, const aclTensor* src), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), t = tensor_arg(src, "src");
  require_dtype("selfRef", s, kAll);
  require_dtype("src", t, kAll);
  return plan({&s, &t}, [=](bool meta) {
    at::Tensor x = view(s, meta), y = view(t, meta);
    require(at::is_expandable_to(y.sizes(), x.sizes()),
            "src shape " + shape_of(t.dims) + " cannot be broadcast to selfRef shape " + shape_of(s.dims));
    if (!meta) x.copy_(y.expand(x.sizes()).clone());  // clone: src may overlap selfRef
  });
})

ACLNN_OP(aclnnInplaceZero, (const aclTensor* selfRef), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  require_dtype("selfRef", s, kAnyType);
  return plan({&s}, [=](bool meta) {
    if (!meta) view(s, meta).zero_();
  });
})

ACLNN_OP(aclnnInplaceOne, (const aclTensor* selfRef), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  require_dtype("selfRef", s, kAll);
  return plan({&s}, [=](bool meta) {
    if (!meta) view(s, meta).fill_(1);
  });
})

ACLNN_OP(aclnnInplaceFillScalar, (const aclTensor* selfRef, const aclScalar* value), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  ScalarValue v = scalar_arg(value, "value");
  require_dtype("selfRef", s, kAll);
  return plan({&s}, [=](bool meta) {
    if (!meta) view(s, meta).fill_(to_scalar(v));
  });
})

ACLNN_OP(aclnnInplaceFillTensor, (const aclTensor* selfRef, const aclTensor* value), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), v = tensor_arg(value, "value");
  require(v.numel() == 1, "value must hold exactly one element");
  require_dtype("selfRef", s, kAll);
  return plan({&s, &v}, [=](bool meta) {
    if (!meta) view(s, meta).fill_(view(v, meta).reshape({}));
  });
})

ACLNN_OP(aclnnInplaceMaskedFillScalar, (const aclTensor* selfRef, const aclTensor* mask, const aclScalar* value), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), m = tensor_arg(mask, "mask");
  ScalarValue v = scalar_arg(value, "value");
  require_dtype("mask", m, {ACL_BOOL, ACL_UINT8});
  require_dtype("selfRef", s, kAll);
  return plan({&s, &m}, [=](bool meta) {
    at::Tensor x = view(s, meta);
    emit("selfRef", x, at::masked_fill(x, view(m, meta).to(at::kBool), to_scalar(v)));
  });
})

ACLNN_OP(aclnnInplaceMaskedFillTensor, (const aclTensor* selfRef, const aclTensor* mask, const aclTensor* value), {
  TensorDesc s = tensor_arg(selfRef, "selfRef"), m = tensor_arg(mask, "mask"), v = tensor_arg(value, "value");
  require_dtype("mask", m, {ACL_BOOL, ACL_UINT8});
  require(v.numel() == 1, "value must hold exactly one element");
  return plan({&s, &m, &v}, [=](bool meta) {
    at::Tensor x = view(s, meta);
    emit("selfRef", x, at::masked_fill(x, view(m, meta).to(at::kBool), view(v, meta).reshape({})));
  });
})

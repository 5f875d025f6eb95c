// Reductions, scans and softmax of the emulator's aclnn library.
#include "emu_aten.h"

using namespace ascend_emu;

namespace {
constexpr uint64_t kReduceWorkspace = 1024;  // nonzero so callers exercise the workspace path
}

#define REDUCE_DTYPE(NAME, FN)                                                                        \
  ACLNN_OP(NAME, (const aclTensor* self, const aclIntArray* dim, bool keepDim, aclDataType dtype,     \
                  aclTensor* out), {                                                                  \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");                              \
    std::vector<int64_t> d = int_array_arg(dim, "dim");                                               \
    require_dtype("self", s, kAll);                                                                   \
    return plan({&s, &o}, [=](bool meta) {                                                            \
      emit("out", view(o, meta), FN(view(s, meta), d, keepDim, scalar_type(dtype)));                  \
    }, kReduceWorkspace);                                                                             \
  })
REDUCE_DTYPE(aclnnReduceSum, at::sum)
REDUCE_DTYPE(aclnnMean, at::mean)

#define REDUCE(NAME, FN)                                                                              \
  ACLNN_OP(NAME, (const aclTensor* self, const aclIntArray* dim, bool keepDim, aclTensor* out), {     \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");                              \
    std::vector<int64_t> d = int_array_arg(dim, "dim");                                               \
    require_dtype("self", s, kAll);                                                                   \
    return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), FN(view(s, meta), d, keepDim)); }, \
                kReduceWorkspace);                                                                    \
  })
REDUCE(aclnnAmax, at::amax)
REDUCE(aclnnAmin, at::amin)
REDUCE(aclnnAll, at::all)
REDUCE(aclnnAny, at::any)

#define ARG_REDUCE(NAME, FN)                                                                          \
  ACLNN_OP(NAME, (const aclTensor* self, int64_t dim, bool keepdim, aclTensor* out), {                \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");                              \
    require_dtype("self", s, kNumeric);                                                               \
    return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), FN(view(s, meta), dim, keepdim)); }, \
                kReduceWorkspace);                                                                    \
  })
ARG_REDUCE(aclnnArgMax, at::argmax)
ARG_REDUCE(aclnnArgMin, at::argmin)

#define DIM_REDUCE(NAME, FN)                                                                          \
  ACLNN_OP(NAME, (const aclTensor* self, int64_t dim, bool keepdim, aclTensor* out, aclTensor* indices), { \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out"), i = tensor_arg(indices, "indices"); \
    require_dtype("self", s, kAll);                                                               \
    return plan({&s, &o, &i}, [=](bool meta) {                                                        \
      auto r = FN(view(s, meta), dim, keepdim);                                                       \
      emit("out", view(o, meta), std::get<0>(r));                                                     \
      emit("indices", view(i, meta), std::get<1>(r));                                                 \
    }, kReduceWorkspace);                                                                             \
  })
DIM_REDUCE(aclnnMaxDim, at::max)
DIM_REDUCE(aclnnMinDim, at::min)

ACLNN_OP(aclnnCumsum, (const aclTensor* self, int64_t dim, aclDataType dtype, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), at::cumsum(view(s, meta), dim, scalar_type(dtype))); },
              kReduceWorkspace);
})

#define SOFTMAX(NAME, FN)                                                                             \
  ACLNN_OP(NAME, (const aclTensor* self, int64_t dim, aclTensor* out), {                              \
    TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");                              \
    require_dtype("self", s, kFloatsD);                                                               \
    return plan({&s, &o}, [=](bool meta) {                                                            \
      at::Tensor x = view(s, meta);                                                                   \
      emit("out", view(o, meta), FN(f32(x), dim, c10::nullopt).to(x.scalar_type()));                  \
    }, 512);                                                                                          \
  })
SOFTMAX(aclnnSoftmax, at::softmax)
SOFTMAX(aclnnLogSoftmax, at::log_softmax)

#define SOFTMAX_BACKWARD(NAME, FN)                                                                    \
  ACLNN_OP(NAME, (const aclTensor* gradOutput, const aclTensor* output, int64_t dim, aclTensor* out), { \
    TensorDesc g = tensor_arg(gradOutput, "gradOutput"), y = tensor_arg(output, "output");           \
    TensorDesc o = tensor_arg(out, "out");                                                            \
    require_dtype("gradOutput", g, kFloatsD);                                                         \
    return plan({&g, &y, &o}, [=](bool meta) {                                                        \
      at::Tensor go = view(g, meta);                                                                  \
      emit("out", view(o, meta), FN(f32(go), f32(view(y, meta)), dim, f32(go).scalar_type()));        \
    }, 512);                                                                                          \
  })
SOFTMAX_BACKWARD(aclnnSoftmaxBackward, at::_softmax_backward_data)
SOFTMAX_BACKWARD(aclnnLogSoftmaxBackward, at::_log_softmax_backward_data)

ACLNN_OP(aclnnProd, (const aclTensor* self, aclDataType dtype, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  return plan({&s, &o}, [=](bool meta) { emit("out", view(o, meta), at::prod(view(s, meta), scalar_type(dtype))); },
              kReduceWorkspace);
})

ACLNN_OP(aclnnProdDim, (const aclTensor* self, int64_t dim, bool keepDim, aclDataType dtype, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  require_dtype("self", s, kAll);
  return plan({&s, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::prod(view(s, meta), dim, keepDim, scalar_type(dtype)));
  }, kReduceWorkspace);
})

// Matrix multiplication, convolution, normalisation, loss, activation-backward, histogram and
// random-number aclnn operators of the emulator.
#include "emu_aten.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <optional>

using namespace ascend_emu;

namespace {
constexpr uint64_t kMatmulWorkspace = 4096;

// cubeMathType: 0 KEEP_DTYPE, 1 ALLOW_FP32_DOWN_PRECISION, 2 USE_FP16, 3 USE_HF32. The emulator
// always keeps the dtype (exact fp32); it only checks the value is one the API defines.
void check_cube(int8_t cubeMathType) {
  require(cubeMathType >= 0 && cubeMathType <= 3, "cubeMathType " + std::to_string(cubeMathType) + " is not 0..3");
}

// Deterministic stream of random numbers per (seed, offset) pair, like the device's philox
// counter: the same pair always gives the same numbers.
at::Generator generator(uint64_t seed, uint64_t offset) {
  return at::make_generator<at::CPUGeneratorImpl>(seed * 0x9E3779B97F4A7C15ULL + offset);
}
}  // namespace

ACLNN_OP(aclnnMm, (const aclTensor* self, const aclTensor* mat2, aclTensor* out, int8_t cubeMathType), {
  TensorDesc a = tensor_arg(self, "self"), b = tensor_arg(mat2, "mat2"), o = tensor_arg(out, "out");
  require_dtype("self", a, kFloats);
  require_dtype("mat2", b, kFloats);
  require(a.dims.size() == 2 && b.dims.size() == 2, "self and mat2 must be 2-D");
  check_cube(cubeMathType);
  return plan({&a, &b, &o}, [=](bool meta) { emit("out", view(o, meta), at::mm(view(a, meta), view(b, meta))); },
              kMatmulWorkspace);
})

ACLNN_OP(aclnnBatchMatMul, (const aclTensor* self, const aclTensor* mat2, aclTensor* out, int8_t cubeMathType), {
  TensorDesc a = tensor_arg(self, "self"), b = tensor_arg(mat2, "mat2"), o = tensor_arg(out, "out");
  require_dtype("self", a, kFloats);
  require_dtype("mat2", b, kFloats);
  require(a.dims.size() == 3 && b.dims.size() == 3, "self and mat2 must be 3-D");
  check_cube(cubeMathType);
  return plan({&a, &b, &o}, [=](bool meta) { emit("out", view(o, meta), at::bmm(view(a, meta), view(b, meta))); },
              kMatmulWorkspace);
})

ACLNN_OP(aclnnAddmm, (const aclTensor* self, const aclTensor* mat1, const aclTensor* mat2, const aclScalar* beta,
                      const aclScalar* alpha, aclTensor* out, int8_t cubeMathType), {
  TensorDesc s = tensor_arg(self, "self"), a = tensor_arg(mat1, "mat1"), b = tensor_arg(mat2, "mat2");
  TensorDesc o = tensor_arg(out, "out");
  ScalarValue be = scalar_arg(beta, "beta"), al = scalar_arg(alpha, "alpha");
  require_dtype("mat1", a, kFloats);
  require_dtype("mat2", b, kFloats);
  check_cube(cubeMathType);
  return plan({&s, &a, &b, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::addmm(view(s, meta), view(a, meta), view(b, meta), to_scalar(be), to_scalar(al)));
  }, kMatmulWorkspace);
})

ACLNN_OP(aclnnBaddbmm, (const aclTensor* self, const aclTensor* batch1, const aclTensor* batch2, const aclScalar* beta,
                        const aclScalar* alpha, aclTensor* out, int8_t cubeMathType), {
  TensorDesc s = tensor_arg(self, "self"), a = tensor_arg(batch1, "batch1"), b = tensor_arg(batch2, "batch2");
  TensorDesc o = tensor_arg(out, "out");
  ScalarValue be = scalar_arg(beta, "beta"), al = scalar_arg(alpha, "alpha");
  require_dtype("batch1", a, kFloats);
  require_dtype("batch2", b, kFloats);
  check_cube(cubeMathType);
  return plan({&s, &a, &b, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::baddbmm(view(s, meta), view(a, meta), view(b, meta), to_scalar(be), to_scalar(al)));
  }, kMatmulWorkspace);
})

ACLNN_OP(aclnnLayerNorm, (const aclTensor* input, const aclIntArray* normalizedShape, const aclTensor* weightOptional,
                          const aclTensor* biasOptional, double eps, aclTensor* out, aclTensor* meanOutOptional,
                          aclTensor* rstdOutOptional), {
  TensorDesc x = tensor_arg(input, "input"), w = tensor_arg(weightOptional, "weightOptional", true);
  TensorDesc b = tensor_arg(biasOptional, "biasOptional", true), o = tensor_arg(out, "out");
  TensorDesc m = tensor_arg(meanOutOptional, "meanOutOptional", true), r = tensor_arg(rstdOutOptional, "rstdOutOptional", true);
  std::vector<int64_t> ns = int_array_arg(normalizedShape, "normalizedShape");
  require_dtype("input", x, kFloats);
  require(!ns.empty(), "normalizedShape must not be empty");
  return plan({&x, &w, &b, &o, &m, &r}, [=](bool meta) {
    auto res = at::native_layer_norm(view(x, meta), ns, view(w, meta), view(b, meta), eps);
    emit("out", view(o, meta), std::get<0>(res));
    emit("meanOutOptional", view(m, meta), std::get<1>(res));
    emit("rstdOutOptional", view(r, meta), std::get<2>(res));
  }, 2048);
})

ACLNN_OP(aclnnLayerNormBackward, (const aclTensor* gradOut, const aclTensor* input, const aclIntArray* normalizedShape,
                                  const aclTensor* mean, const aclTensor* rstd, const aclTensor* weightOptional,
                                  const aclTensor* biasOptional, const aclBoolArray* outputMask, aclTensor* gradInputOut,
                                  aclTensor* gradWeightOut, aclTensor* gradBiasOut), {
  TensorDesc g = tensor_arg(gradOut, "gradOut"), x = tensor_arg(input, "input"), m = tensor_arg(mean, "mean");
  TensorDesc r = tensor_arg(rstd, "rstd"), w = tensor_arg(weightOptional, "weightOptional", true);
  TensorDesc b = tensor_arg(biasOptional, "biasOptional", true);
  TensorDesc gi = tensor_arg(gradInputOut, "gradInputOut", true), gw = tensor_arg(gradWeightOut, "gradWeightOut", true);
  TensorDesc gb = tensor_arg(gradBiasOut, "gradBiasOut", true);
  std::vector<int64_t> ns = int_array_arg(normalizedShape, "normalizedShape");
  std::vector<bool> mask = bool_array_arg(outputMask, "outputMask");
  require(mask.size() == 3, "outputMask must have 3 elements");
  require(!mask[0] || present(gi), "outputMask[0] is set but gradInputOut is null");
  require(!mask[1] || present(gw), "outputMask[1] is set but gradWeightOut is null");
  require(!mask[2] || present(gb), "outputMask[2] is set but gradBiasOut is null");
  require_dtype("gradOut", g, kFloats);
  return plan({&g, &x, &m, &r, &w, &b, &gi, &gw, &gb}, [=](bool meta) {
    std::array<bool, 3> mk{mask[0], mask[1], mask[2]};
    auto res = at::native_layer_norm_backward(view(g, meta), view(x, meta), ns, view(m, meta), view(r, meta),
                                              view(w, meta), view(b, meta), mk);
    if (mask[0]) emit("gradInputOut", view(gi, meta), std::get<0>(res));
    if (mask[1]) emit("gradWeightOut", view(gw, meta), std::get<1>(res));
    if (mask[2]) emit("gradBiasOut", view(gb, meta), std::get<2>(res));
  }, 2048);
})

// reduction: 0 none, 1 mean, 2 sum. weight is required (pass ones for an unweighted loss).
ACLNN_OP(aclnnNLLLoss, (const aclTensor* self, const aclTensor* target, const aclTensor* weight, int64_t reduction,
                        int64_t ignoreIndex, aclTensor* out, aclTensor* totalWeightOut), {
  TensorDesc s = tensor_arg(self, "self"), t = tensor_arg(target, "target"), w = tensor_arg(weight, "weight");
  TensorDesc o = tensor_arg(out, "out"), tw = tensor_arg(totalWeightOut, "totalWeightOut");
  require_dtype("self", s, kFloats);
  require_dtype("target", t, {ACL_INT64, ACL_INT32, ACL_UINT8});
  require(reduction >= 0 && reduction <= 2, "reduction must be 0, 1 or 2");
  return plan({&s, &t, &w, &o, &tw}, [=](bool meta) {
    auto res = at::nll_loss_forward(f32(view(s, meta)), view(t, meta).to(at::kLong), f32(view(w, meta)), reduction, ignoreIndex);
    emit("out", view(o, meta), std::get<0>(res));
    at::Tensor twv = view(tw, meta);
    emit("totalWeightOut", twv, std::get<1>(res).reshape(twv.sizes()));
  }, 1024);
})

ACLNN_OP(aclnnNLLLossBackward, (const aclTensor* gradOutput, const aclTensor* self, const aclTensor* target,
                                const aclTensor* weight, int64_t reduction, int64_t ignoreIndex,
                                const aclTensor* totalWeight, aclTensor* out), {
  TensorDesc g = tensor_arg(gradOutput, "gradOutput"), s = tensor_arg(self, "self"), t = tensor_arg(target, "target");
  TensorDesc w = tensor_arg(weight, "weight"), tw = tensor_arg(totalWeight, "totalWeight"), o = tensor_arg(out, "out");
  require_dtype("self", s, kFloats);
  require_dtype("target", t, {ACL_INT64, ACL_INT32, ACL_UINT8});
  return plan({&g, &s, &t, &w, &tw, &o}, [=](bool meta) {
    at::Tensor total = f32(view(tw, meta)).reshape({});
    emit("out", view(o, meta),
         at::nll_loss_backward(f32(view(g, meta)), f32(view(s, meta)), view(t, meta).to(at::kLong), f32(view(w, meta)),
                               reduction, ignoreIndex, total));
  }, 1024);
})

#define GRAD_OP(NAME, SECOND, EXPR)                                                                        \
  ACLNN_OP(NAME, (const aclTensor* gradOutput, const aclTensor* SECOND, aclTensor* gradInput), {            \
    TensorDesc g = tensor_arg(gradOutput, "gradOutput"), x = tensor_arg(SECOND, #SECOND);                  \
    TensorDesc o = tensor_arg(gradInput, "gradInput");                                                     \
    require_dtype("gradOutput", g, kFloatsD);                                                              \
    return plan({&g, &x, &o}, [=](bool meta) {                                                             \
      at::Tensor go = view(g, meta), v = view(x, meta);                                                    \
      emit("gradInput", view(o, meta), EXPR);                                                              \
    });                                                                                                    \
  })
GRAD_OP(aclnnSiluBackward, self, at::silu_backward(go, v))
GRAD_OP(aclnnTanhBackward, output, at::tanh_backward(go, v))
GRAD_OP(aclnnSigmoidBackward, output, at::sigmoid_backward(go, v))
GRAD_OP(aclnnGeluBackward, self, at::gelu_backward(go, v, "tanh"))  // backward of aclnnGelu: the tanh form

// aclnnGeluBackwardV2(gradOutput, self, approximate, gradInput): unlike aclnnGeluV2, approximate is
// a string here, "none" or "tanh" (CANN operator doc and header, aclnn_gelu_backward_v2.h).
ACLNN_OP(aclnnGeluBackwardV2, (const aclTensor* gradOutput, const aclTensor* self, char* approximate,
                               aclTensor* gradInput), {
  TensorDesc g = tensor_arg(gradOutput, "gradOutput"), x = tensor_arg(self, "self");
  TensorDesc o = tensor_arg(gradInput, "gradInput");
  require_dtype("gradOutput", g, kFloatsD);
  if (approximate == nullptr) throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, "approximate is NULL"};
  std::string mode(approximate);
  require(mode == "none" || mode == "tanh", "approximate must be \"none\" or \"tanh\", got \"" + mode + "\"");
  return plan({&g, &x, &o}, [=](bool meta) {
    emit("gradInput", view(o, meta), at::gelu_backward(view(g, meta), view(x, meta), mode));
  });
})

ACLNN_OP(aclnnThresholdBackward, (const aclTensor* gradOutput, const aclTensor* self, const aclScalar* threshold, aclTensor* out), {
  TensorDesc g = tensor_arg(gradOutput, "gradOutput"), x = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  ScalarValue th = scalar_arg(threshold, "threshold");
  require_dtype("gradOutput", g, kNumeric);
  return plan({&g, &x, &o}, [=](bool meta) {
    emit("out", view(o, meta), at::threshold_backward(view(g, meta), view(x, meta), to_scalar(th)));
  });
})

// Convolution (1-D to 3-D, transposed, grouped), as CANN documents aclnnConvolution and
// aclnnConvolutionBackward; biasSizes says whether (and how big) the bias gradient is.
ACLNN_OP(aclnnConvolution, (const aclTensor* input, const aclTensor* weight, const aclTensor* bias,
                            const aclIntArray* stride, const aclIntArray* padding, const aclIntArray* dilation,
                            bool transposed, const aclIntArray* outputPadding, int64_t groups, aclTensor* output,
                            int8_t cubeMathType), {
  TensorDesc x = tensor_arg(input, "input"), w = tensor_arg(weight, "weight"), b = tensor_arg(bias, "bias", true);
  TensorDesc o = tensor_arg(output, "output");
  std::vector<int64_t> st = int_array_arg(stride, "stride"), pd = int_array_arg(padding, "padding");
  std::vector<int64_t> dl = int_array_arg(dilation, "dilation"), op = int_array_arg(outputPadding, "outputPadding");
  require_dtype("input", x, kFloats);
  require_dtype("weight", w, kFloats);
  require(x.dims.size() >= 3 && x.dims.size() <= 5, "input must be 3-D to 5-D (N, C, spatial...)");
  require(groups >= 1, "groups must be positive");
  check_cube(cubeMathType);
  return plan({&x, &w, &b, &o}, [=](bool meta) {
    emit("output", view(o, meta),
         at::convolution(view(x, meta), view(w, meta), view(b, meta), st, pd, dl, transposed, op, groups));
  }, kMatmulWorkspace);
})

ACLNN_OP(aclnnConvolutionBackward, (const aclTensor* gradOutput, const aclTensor* input, const aclTensor* weight,
                                    const aclIntArray* biasSizes, const aclIntArray* stride,
                                    const aclIntArray* padding, const aclIntArray* dilation, bool transposed,
                                    const aclIntArray* outputPadding, int groups, const aclBoolArray* outputMask,
                                    int8_t cubeMathType, aclTensor* gradInput, aclTensor* gradWeight,
                                    aclTensor* gradBias), {
  TensorDesc g = tensor_arg(gradOutput, "gradOutput"), x = tensor_arg(input, "input"), w = tensor_arg(weight, "weight");
  TensorDesc gi = tensor_arg(gradInput, "gradInput", true), gw = tensor_arg(gradWeight, "gradWeight", true);
  TensorDesc gb = tensor_arg(gradBias, "gradBias", true);
  std::vector<int64_t> bs = int_array_arg(biasSizes, "biasSizes"), st = int_array_arg(stride, "stride");
  std::vector<int64_t> pd = int_array_arg(padding, "padding"), dl = int_array_arg(dilation, "dilation");
  std::vector<int64_t> op = int_array_arg(outputPadding, "outputPadding");
  std::vector<bool> mask = bool_array_arg(outputMask, "outputMask");
  require(mask.size() == 3, "outputMask must have 3 elements");
  require(!mask[0] || present(gi), "outputMask[0] is set but gradInput is null");
  require(!mask[1] || present(gw), "outputMask[1] is set but gradWeight is null");
  require(!mask[2] || (present(gb) && !bs.empty()), "outputMask[2] is set but gradBias or biasSizes is missing");
  require_dtype("gradOutput", g, kFloats);
  check_cube(cubeMathType);
  return plan({&g, &x, &w, &gi, &gw, &gb}, [=](bool meta) {
    std::array<bool, 3> mk{mask[0], mask[1], mask[2]};
    std::optional<at::IntArrayRef> bias_sizes;
    if (mask[2]) bias_sizes = bs;
    auto res = at::convolution_backward(view(g, meta), view(x, meta), view(w, meta), bias_sizes, st, pd, dl,
                                        transposed, op, groups, mk);
    if (mask[0]) emit("gradInput", view(gi, meta), std::get<0>(res));
    if (mask[1]) emit("gradWeight", view(gw, meta), std::get<1>(res));
    if (mask[2]) emit("gradBias", view(gb, meta), std::get<2>(res));
  }, kMatmulWorkspace);
})

// Histogram with `bins` equal bins over [min, max] (min == max: the data's range); values outside
// are ignored. Integer inputs are binned exactly (in double), as the device does.
ACLNN_OP(aclnnHistc, (const aclTensor* self, int64_t bins, const aclScalar* min, const aclScalar* max, aclTensor* out), {
  TensorDesc s = tensor_arg(self, "self"), o = tensor_arg(out, "out");
  ScalarValue lo = scalar_arg(min, "min"), hi = scalar_arg(max, "max");
  require_dtype("self", s, kNumeric);
  require(bins > 0, "bins must be positive");
  return plan({&s, &o}, [=](bool meta) {
    at::Tensor x = view(s, meta);
    at::Tensor wide = x.is_floating_point() && x.scalar_type() != at::kHalf && x.scalar_type() != at::kBFloat16
                          ? x : x.to(at::kDouble);
    emit("out", view(o, meta), at::histc(wide, bins, to_scalar(lo), to_scalar(hi)).to(x.scalar_type()));
  });
})

ACLNN_OP(aclnnInplaceUniform, (const aclTensor* selfRef, double from, double to, uint64_t seed, uint64_t offset), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  require_dtype("selfRef", s, kFloatsD);
  require(from <= to, "from must not exceed to");
  return plan({&s}, [=](bool meta) {
    if (meta) return;
    at::Tensor x = view(s, meta);
    x.copy_(at::empty(x.sizes(), x.options().dtype(at::kFloat)).uniform_(from, to, generator(seed, offset)));
  });
})

ACLNN_OP(aclnnInplaceNormal, (const aclTensor* selfRef, float mean, float std, int64_t seed, int64_t offset), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  require_dtype("selfRef", s, kFloatsD);
  require(std >= 0, "std must be >= 0");
  return plan({&s}, [=](bool meta) {
    if (meta) return;
    at::Tensor x = view(s, meta);
    x.copy_(at::empty(x.sizes(), x.options().dtype(at::kFloat)).normal_(mean, std, generator(seed, offset)));
  });
})

ACLNN_OP(aclnnInplaceBernoulli, (const aclTensor* selfRef, const aclScalar* prob, int64_t seed, int64_t offset), {
  TensorDesc s = tensor_arg(selfRef, "selfRef");
  ScalarValue p = scalar_arg(prob, "prob");
  double pv = p.dtype == ACL_DOUBLE || p.dtype == ACL_FLOAT ? p.f : static_cast<double>(p.i);
  require(pv >= 0 && pv <= 1, "prob must be in [0, 1]");
  require_dtype("selfRef", s, kAll);
  return plan({&s}, [=](bool meta) {
    if (meta) return;
    at::Tensor x = view(s, meta);
    x.copy_(at::empty(x.sizes(), x.options().dtype(at::kFloat)).bernoulli_(pv, generator(seed, offset)));
  });
})

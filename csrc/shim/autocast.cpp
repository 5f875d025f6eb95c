// torch.autocast("deeplink", ...): the same cast policies CUDA uses, registered for the
// AutocastPrivateUse1 key (torch registers none for PrivateUse1 itself), including the op CUDA
// refuses under autocast (binary_cross_entropy). Ops outside the lists fall through untouched.
#include <ATen/autocast_mode.h>
#include <torch/library.h>

namespace {

// As under CUDA autocast: in reduced precision the log() inside binary cross entropy of a
// sigmoid output loses what the loss needs, so the fused, stable form must be used instead.
at::Tensor binary_cross_entropy_banned(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                       int64_t) {
  TORCH_CHECK(false, "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast "
              "(deeplink autocast refuses them, as CUDA autocast does). Combine the sigmoid and the loss into "
              "torch.nn.functional.binary_cross_entropy_with_logits or torch.nn.BCEWithLogitsLoss, which are safe "
              "to autocast; or compute the loss outside the autocast region in float32.");
}

#define DL_LOWER_PRECISION(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, lower_precision_fp)
#define DL_FP32(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32)
#define DL_FP32_SET_OPT_DTYPE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32_set_opt_dtype)
#define DL_PROMOTE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, promote)

TORCH_LIBRARY_IMPL(_, AutocastPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFallthrough());
}

TORCH_LIBRARY_IMPL(aten, AutocastPrivateUse1, m) {
  AT_FORALL_LOWER_PRECISION_FP(DL_LOWER_PRECISION)
  AT_FORALL_FP32(DL_FP32)
  AT_FORALL_FP32_SET_OPT_DTYPE(DL_FP32_SET_OPT_DTYPE)
  AT_FORALL_PROMOTE(DL_PROMOTE)
  m.impl("binary_cross_entropy", TORCH_FN(binary_cross_entropy_banned));
}

}  // namespace

// torch.autocast("deeplink", ...): the same cast policies CUDA uses, registered for the
// AutocastPrivateUse1 key (torch registers none for PrivateUse1 itself). Ops outside the lists
// fall through untouched.
#include <ATen/autocast_mode.h>
#include <torch/library.h>

namespace {

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
}

}  // namespace

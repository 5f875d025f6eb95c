// Which fused attention kernel scaled_dot_product_attention picks on the deeplink device.
// ATen asks a per-device stub; without one, PrivateUse1 always gets the unfused math path, which
// is slower and rounds differently from the same model on the backend's own ATen device.
#include "runtime.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/native/transformers/attention.h>

#include <atomic>

namespace deeplink {
namespace {

// -1: ask the backend (its `_fused_sdp_choice` kernel, or its ATen device's, through the router);
// otherwise a fixed sdp::SDPBackend value chosen in Python from the backend's kernel table (0 = math).
std::atomic<int> g_choice{0};
// For a learnable mask (an attention bias that requires grad): a kernel whose backward returns the
// bias gradient. The backend's own choice cannot tell: the router hands it views without autograd.
std::atomic<int> g_learnable_mask_choice{0};

int64_t choose(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::optional<at::Tensor>& mask,
               double dropout_p, bool is_causal, std::optional<double> scale, bool enable_gqa) {
  if (mask.has_value() && mask->defined() && mask->requires_grad() && at::GradMode::is_enabled())
    return g_learnable_mask_choice.load(std::memory_order_relaxed);
  int fixed = g_choice.load(std::memory_order_relaxed);
  constexpr int64_t kMath = 0, kFlash = 1, kEfficient = 2;
  // Backend kernels may take grouped-query attention (fewer key/value heads) in the efficient
  // kernel, but ATen's meta function for it, which torch.compile traces with (fake tensors carry
  // the Python dispatch key), assumes equal heads: traced GQA takes the math path, as on CUDA.
  if (fixed == kEfficient && enable_gqa && q.key_set().has(c10::DispatchKey::Python) && q.dim() >= 3 &&
      k.dim() >= 3 && q.size(-3) != k.size(-3))
    return kMath;
  if (fixed >= 0) return fixed;
  int64_t c = at::_fused_sdp_choice(q, k, v, mask, dropout_p, is_causal, scale, enable_gqa);
  // On a non-CUDA device ATen's flash branch calls the *_for_cpu kernel; a CUDA-backed deeplink
  // device has none, so it takes CUDA's memory-efficient kernel instead.
  const BackendSlot& slot = active_backend();
  if (c == kFlash && slot.passthrough && *slot.passthrough == c10::DeviceType::CUDA) c = kEfficient;
  return c;
}

}  // namespace

void set_sdp_choice(int choice, int learnable_mask_choice) {
  g_choice.store(choice);
  g_learnable_mask_choice.store(learnable_mask_choice);
}

}  // namespace deeplink

namespace at::native {
REGISTER_PRIVATEUSE1_DISPATCH(_fused_sdp_choice_stub, &deeplink::choose)
}

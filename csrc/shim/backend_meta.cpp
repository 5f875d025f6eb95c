// Backend metadata on deeplink tensors: torch._utils.set_tensor_metadata(t, {...}) stores a
// {name: bool} map on the tensor, get_tensor_metadata reads it back, and torch.save/torch.load,
// FakeTensor and torch._C._copy_backend_meta carry it along. (Vendor backends use such flags for
// layouts like Ascend's private formats.) Without a registered pair of functions torch drops it.
#include <ATen/core/Tensor.h>
#include <c10/core/TensorImpl.h>
#include <torch/csrc/jit/serialization/pickler_helper.h>

#include <string>
#include <unordered_map>

namespace deeplink {
namespace {

struct Flags final : c10::BackendMeta {
  std::unordered_map<std::string, bool> entries;
  c10::intrusive_ptr<c10::BackendMeta> clone(const c10::intrusive_ptr<c10::BackendMeta>&) const override {
    auto copy = c10::make_intrusive<Flags>();
    copy->entries = entries;
    return copy;
  }
};

void write_out(const at::Tensor& t, std::unordered_map<std::string, bool>& metadata) {
  auto* flags = dynamic_cast<Flags*>(t.unsafeGetTensorImpl()->get_backend_meta());
  if (flags)
    for (const auto& [k, v] : flags->entries) metadata[k] = v;
}

void read_in(const at::Tensor& t, std::unordered_map<std::string, bool>& metadata) {
  if (metadata.empty()) return;
  auto flags = c10::make_intrusive<Flags>();
  flags->entries = metadata;
  t.unsafeGetTensorImpl()->set_backend_meta(flags);
}

}  // namespace

void register_backend_meta() {
  torch::jit::TensorBackendMetaRegistry(c10::DeviceType::PrivateUse1, &write_out, &read_in);
}

}  // namespace deeplink

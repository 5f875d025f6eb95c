#include "generator.h"

#include "device_state.h"
#include "runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <deque>
#include <mutex>

namespace deeplink {
namespace {

at::Generator make_inner(c10::DeviceIndex index) {
  int id = active_backend_id();
  if (id >= 0) {
    const BackendSlot& slot = backend_slot(id);
    if (slot.passthrough && *slot.passthrough != c10::DeviceType::CPU) {
      // e.g. CUDA: a fresh generator of that device, so its kernels accept it.
      return at::globalContext().getAcceleratorHooksInterface(*slot.passthrough).getNewGenerator(index);
    }
  }
  return at::detail::createCPUGenerator();
}

std::mutex g_mutex;
std::deque<at::Generator> g_defaults;  // index -> default generator; deque keeps references stable

}  // namespace

DeeplinkGenerator::DeeplinkGenerator(c10::DeviceIndex index, at::Generator inner)
    : c10::GeneratorImpl(c10::Device(c10::DeviceType::PrivateUse1, index),
                         c10::DispatchKeySet(c10::DispatchKey::PrivateUse1)),
      inner_(std::move(inner)) {}

void DeeplinkGenerator::set_current_seed(uint64_t seed) { inner_.set_current_seed(seed); }
void DeeplinkGenerator::set_offset(uint64_t offset) { inner_.set_offset(offset); }
uint64_t DeeplinkGenerator::get_offset() const { return inner_.get_offset(); }
uint64_t DeeplinkGenerator::current_seed() const { return inner_.current_seed(); }
uint64_t DeeplinkGenerator::seed() { return inner_.seed(); }
void DeeplinkGenerator::set_state(const c10::TensorImpl& state) { inner_.unsafeGetGeneratorImpl()->set_state(state); }
c10::intrusive_ptr<c10::TensorImpl> DeeplinkGenerator::get_state() const {
  return inner_.unsafeGetGeneratorImpl()->get_state();
}
DeeplinkGenerator* DeeplinkGenerator::clone_impl() const {
  return new DeeplinkGenerator(device().index(), inner_.clone());
}

const at::Generator& default_generator(c10::DeviceIndex index) {
  if (index < 0) index = static_cast<c10::DeviceIndex>(current_device());
  check_device_index(index);
  std::lock_guard<std::mutex> lock(g_mutex);
  while (static_cast<int>(g_defaults.size()) <= index) {
    auto i = static_cast<c10::DeviceIndex>(g_defaults.size());
    g_defaults.push_back(at::make_generator<DeeplinkGenerator>(i, make_inner(i)));
  }
  return g_defaults[index];
}

at::Generator new_generator(c10::DeviceIndex index) {
  if (index < 0) index = static_cast<c10::DeviceIndex>(current_device());
  return at::make_generator<DeeplinkGenerator>(index, make_inner(index));
}

at::Generator inner_generator(const std::optional<at::Generator>& gen, c10::DeviceIndex device) {
  const at::Generator& g = (gen.has_value() && gen->defined()) ? *gen : default_generator(device);
  auto* impl = dynamic_cast<DeeplinkGenerator*>(g.unsafeGetGeneratorImpl());
  TORCH_CHECK(impl != nullptr, "deeplink: expected a deeplink generator (torch.Generator(device='deeplink')), got one for ",
              g.device());
  return impl->inner();
}

}  // namespace deeplink

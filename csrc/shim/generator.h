// deeplink's random generator. Random kernels of a Passthrough backend are ATen's own (CPU or
// CUDA), and those check that the generator they get is of their device type. So a deeplink
// generator owns an "inner" generator of that ATen device and forwards seed and state to it; the
// router hands the inner one to the kernel. Seeding and get/set_state therefore behave exactly as
// the underlying ATen generator does, and deeplink's streams of random numbers are independent of
// torch's CPU default generator.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/GeneratorImpl.h>

namespace deeplink {

class DeeplinkGenerator final : public c10::GeneratorImpl {
 public:
  DeeplinkGenerator(c10::DeviceIndex index, at::Generator inner);
  void set_current_seed(uint64_t seed) override;
  void set_offset(uint64_t offset) override;
  uint64_t get_offset() const override;
  uint64_t current_seed() const override;
  uint64_t seed() override;
  void set_state(const c10::TensorImpl& state) override;
  c10::intrusive_ptr<c10::TensorImpl> get_state() const override;
  static c10::DeviceType device_type() { return c10::DeviceType::PrivateUse1; }
  const at::Generator& inner() const { return inner_; }

 private:
  DeeplinkGenerator* clone_impl() const override;
  at::Generator inner_;
};

const at::Generator& default_generator(c10::DeviceIndex index);
at::Generator new_generator(c10::DeviceIndex index);
// The ATen generator a kernel should get for deeplink generator `gen` (or the default of `device`
// when `gen` is undefined).
at::Generator inner_generator(const std::optional<at::Generator>& gen, c10::DeviceIndex device);

}  // namespace deeplink

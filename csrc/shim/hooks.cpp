// PrivateUse1 hooks: what torch asks of a device backend outside of operator dispatch
// (availability, device count, generators, storage resizing).
#include "allocator.h"
#include "device_state.h"
#include "generator.h"
#include "pinned_memory.h"
#include "runtime.h"
#include "storage_ops.h"

#include <ATen/detail/PrivateUse1HooksInterface.h>

namespace deeplink {
namespace {

struct Hooks final : public at::PrivateUse1HooksInterface {
  bool isBuilt() const override { return true; }
  bool isAvailable() const override { return active_backend_id() >= 0 && device_count() > 0; }
  bool hasPrimaryContext(c10::DeviceIndex) const override { return true; }
  c10::DeviceIndex deviceCount() const override { return static_cast<c10::DeviceIndex>(device_count()); }
  void setCurrentDevice(c10::DeviceIndex d) const override { set_current_device(d); }
  c10::DeviceIndex getCurrentDevice() const override { return static_cast<c10::DeviceIndex>(current_device()); }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex d) const override {
    auto old = static_cast<c10::DeviceIndex>(current_device());
    set_current_device(d);
    return old;
  }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex d) const override {
    if (d < 0 || d >= device_count()) return static_cast<c10::DeviceIndex>(current_device());
    return exchangeDevice(d);
  }
  const at::Generator& getDefaultGenerator(c10::DeviceIndex d) const override { return default_generator(d); }
  at::Generator getNewGenerator(c10::DeviceIndex d) const override { return new_generator(d); }
  at::Device getDeviceFromPtr(void*) const override {
    return at::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(current_device()));
  }
  bool isPinnedPtr(const void* p) const override { return is_pinned_ptr(p); }
  c10::Allocator* getPinnedMemoryAllocator() const override { return pinned_memory_allocator(); }
  void resizePrivateUse1Bytes(const c10::Storage& storage, size_t newsize) const override {
    resize_storage_bytes(storage.unsafeGetStorageImpl(), newsize);
  }
};

Hooks g_hooks;

}  // namespace

void register_hooks() {
  at::RegisterPrivateUse1HooksInterface(&g_hooks);
}

}  // namespace deeplink

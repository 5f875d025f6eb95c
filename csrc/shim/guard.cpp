// c10's device guard for PrivateUse1: current device, streams and events, all through the active
// backend's runtime. torch.Stream / torch.Event / torch.deeplink.Stream and the autograd engine
// reach the backend through this file.
#include "device_state.h"
#include "runtime.h"

#include <algorithm>

#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace deeplink {
namespace {

struct Event {
  int backend;
  int device;
  void* handle;
};

DeviceRuntime& rt() { return *active_backend().runtime; }

// torch.Stream(device="deeplink") and torch.Event(device="deeplink") name no index: the current
// device is meant, as for CUDA.
c10::Device resolved(c10::Device d) {
  return d.has_index() ? d : c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(current_device()));
}
DeviceRuntime& rt_of(const Event* e) { return *backend_slot(e->backend).runtime; }

struct GuardImpl final : public c10::impl::DeviceGuardImplInterface {
  static constexpr c10::DeviceType kType = c10::DeviceType::PrivateUse1;

  c10::DeviceType type() const override { return kType; }

  c10::Device exchangeDevice(c10::Device d) const override {
    int old = current_device();
    if (d.index() != old) set_current_device(d.index());
    return c10::Device(kType, static_cast<c10::DeviceIndex>(old));
  }
  c10::Device getDevice() const override { return c10::Device(kType, static_cast<c10::DeviceIndex>(current_device())); }
  void setDevice(c10::Device d) const override { set_current_device(d.index()); }
  void uncheckedSetDevice(c10::Device d) const noexcept override {
    try {
      set_current_device(d.index());
    } catch (...) {
    }
  }
  // Autograd sizes its per-device worker threads from this, once, at the first backward of the
  // process; a later deeplink.use() of a backend with more devices must still find a thread for
  // each index. So this is not the active backend's count: it is the most devices of any backend
  // set up so far, and at least kAutogradDevices, as backends are set up lazily (a backend first
  // activated after the first backward is covered up to that many devices). One idle thread per
  // index is the whole cost. torch.deeplink.device_count() and the accelerator hooks keep the
  // active backend's count.
  static constexpr int kAutogradDevices = 8;
  c10::DeviceIndex deviceCount() const noexcept override {
    return static_cast<c10::DeviceIndex>(std::max(max_device_count(), kAutogradDevices));
  }

  c10::Stream getStream(c10::Device d) const override { return current_stream(resolved(d).index()); }
  c10::Stream getDefaultStream(c10::Device d) const override {
    return c10::Stream(c10::Stream::DEFAULT, resolved(d));
  }
  c10::Stream getStreamFromGlobalPool(c10::Device d, bool /*high_priority*/) const override {
    return new_stream(resolved(d).index());
  }
  c10::Stream getNewStream(c10::Device d, int /*priority*/) const override { return new_stream(resolved(d).index()); }
  // Every dtype: storage is bytes, and an op a backend lacks for a dtype falls back (or raises by policy).
  c10::DeviceCapability getDeviceCapability(c10::Device) const override { return c10::DeviceCapability(); }
  c10::Stream exchangeStream(c10::Stream s) const override {
    c10::Stream old = current_stream(s.device_index());
    set_current_stream(s);
    return old;
  }
  bool queryStream(const c10::Stream& s) const override { return rt().stream_query(s.device_index(), native_stream(s)); }
  void synchronizeStream(const c10::Stream& s) const override { rt().stream_synchronize(s.device_index(), native_stream(s)); }
  void synchronizeDevice(const c10::DeviceIndex d) const override { rt().synchronize(d); }

  void record(void** event, const c10::Stream& stream, const c10::DeviceIndex device_index,
              const c10::EventFlag /*flag*/) const override {
    TORCH_CHECK(device_index == -1 || device_index == stream.device_index(),
                "deeplink: event device ", static_cast<int>(device_index), " does not match stream device ",
                static_cast<int>(stream.device_index()));
    auto* e = static_cast<Event*>(*event);
    if (e == nullptr) {
      e = new Event{active_backend_id(), stream.device_index(), rt().event_create(stream.device_index())};
      *event = e;
    }
    rt_of(e).event_record(e->device, e->handle, native_stream(stream));
  }
  void block(void* event, const c10::Stream& stream) const override {
    if (!event) return;
    auto* e = static_cast<Event*>(event);
    rt_of(e).stream_wait_event(stream.device_index(), native_stream(stream), e->handle);
  }
  bool queryEvent(void* event) const override {
    if (!event) return true;
    auto* e = static_cast<Event*>(event);
    return rt_of(e).event_query(e->device, e->handle);
  }
  void synchronizeEvent(void* event) const override {
    if (!event) return;
    auto* e = static_cast<Event*>(event);
    rt_of(e).event_synchronize(e->device, e->handle);
  }
  void destroyEvent(void* event, const c10::DeviceIndex /*device_index*/) const noexcept override {
    if (!event) return;
    auto* e = static_cast<Event*>(event);
    try {
      rt_of(e).event_destroy(e->device, e->handle);
    } catch (...) {
    }
    delete e;
  }
  double elapsedTime(void* start, void* end, const c10::DeviceIndex /*device_index*/) const override {
    TORCH_CHECK(start && end, "deeplink: both events must be recorded before elapsed_time()");
    auto* a = static_cast<Event*>(start);
    auto* b = static_cast<Event*>(end);
    return rt_of(a).event_elapsed_ms(a->device, a->handle, b->handle);
  }
  void recordDataPtrOnStream(const c10::DataPtr&, const c10::Stream&) const override {}
};

C10_REGISTER_GUARD_IMPL(PrivateUse1, GuardImpl);

}  // namespace
}  // namespace deeplink

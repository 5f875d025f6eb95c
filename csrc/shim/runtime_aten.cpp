// A runtime made of an ATen device's own parts: its c10 allocator (for CUDA, torch's caching
// allocator), tensor copies for memcpy, and its device guard for streams and events. This is how
// the CUDA backend runs without any build-time CUDA dependency: the shim compiles against a CPU
// torch and, on a CUDA build of torch, reaches CUDA through these generic interfaces.
#include "runtime.h"

#include <ATen/ATen.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace deeplink {
namespace {

struct AtenEvent {
  void* event = nullptr;  // the device guard's event handle, created on first record
  c10::Device device;
  // The CPU device has no device events (work is synchronous): the host clock at record time.
  std::optional<std::chrono::steady_clock::time_point> host_time;
};

class AtenRuntime final : public DeviceRuntime {
 public:
  explicit AtenRuntime(c10::DeviceType type) : type_(type), guard_(type) {}

  bool host_accessible() const override { return type_ == c10::DeviceType::CPU; }
  bool caches() const override { return type_ != c10::DeviceType::CPU; }  // ATen's device allocators pool
  int device_count() override { return guard_.deviceCount(); }
  void set_device(int d) override { guard_.setDevice(dev(d)); }

  void* malloc(int d, size_t n) override {
    c10::impl::VirtualGuardImpl g(type_);
    c10::Device old = g.exchangeDevice(dev(d));
    c10::DataPtr p = c10::GetAllocator(type_)->allocate(n);
    g.exchangeDevice(old);
    void* raw = p.get();
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(raw, std::move(p));
    return raw;
  }
  void free(int, void* p) override {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(p);  // the DataPtr's deleter returns it to the ATen allocator
  }
  void memcpy(int d, void* dst, const void* src, size_t n, dl_memcpy_kind kind, void* stream) override {
    if (n == 0) return;
    c10::Device host(c10::DeviceType::CPU);
    c10::Device on = type_ == c10::DeviceType::CPU ? host : dev(d);
    auto bytes = [&](const void* p, c10::Device where) {
      return at::from_blob(const_cast<void*>(p), {static_cast<int64_t>(n)}, at::TensorOptions().dtype(at::kByte).device(where));
    };
    c10::Device dst_dev = kind == DL_MEMCPY_D2H ? host : on;
    c10::Device src_dev = kind == DL_MEMCPY_H2D ? host : on;
    c10::OptionalStreamGuard sg;
    if (stream) sg.reset_stream(*static_cast<c10::Stream*>(stream));
    bytes(dst, dst_dev).copy_(bytes(src, src_dev));
    if (kind != DL_MEMCPY_D2D) synchronize_stream(d, stream);  // host copies are synchronous (runtime.h)
  }
  // The CPU device has no streams or events (work is synchronous); only CUDA reaches the guard.
  void synchronize(int d) override {
    if (type_ != c10::DeviceType::CPU) guard_.synchronizeDevice(static_cast<c10::DeviceIndex>(d));
  }

  void* stream_create(int d) override {
    return type_ == c10::DeviceType::CPU ? nullptr : new c10::Stream(guard_.getNewStream(dev(d)));
  }
  void stream_destroy(int, void* s) override { delete static_cast<c10::Stream*>(s); }
  void stream_synchronize(int d, void* s) override { synchronize_stream(d, s); }
  bool stream_query(int d, void* s) override {
    return type_ == c10::DeviceType::CPU || guard_.queryStream(stream_of(d, s));
  }
  void stream_wait_event(int d, void* s, void* e) override {
    auto* ev = static_cast<AtenEvent*>(e);
    if (type_ != c10::DeviceType::CPU && ev->event) guard_.block(ev->event, stream_of(d, s));
  }
  void* event_create(int d) override { return new AtenEvent{nullptr, dev(d)}; }
  void event_destroy(int d, void* e) override {
    auto* ev = static_cast<AtenEvent*>(e);
    if (ev->event) guard_.destroyEvent(ev->event, static_cast<c10::DeviceIndex>(d));
    delete ev;
  }
  void event_record(int d, void* e, void* s) override {
    auto* ev = static_cast<AtenEvent*>(e);
    if (type_ == c10::DeviceType::CPU) {
      ev->host_time = std::chrono::steady_clock::now();
      return;
    }
    // Timing is always enabled: deeplink events are few, and elapsed_time must work.
    guard_.record(&ev->event, stream_of(d, s), static_cast<c10::DeviceIndex>(d), c10::EventFlag::BACKEND_DEFAULT);
  }
  void event_synchronize(int, void* e) override {
    auto* ev = static_cast<AtenEvent*>(e);
    if (ev->event) guard_.synchronizeEvent(ev->event);
  }
  bool event_query(int, void* e) override {
    auto* ev = static_cast<AtenEvent*>(e);
    return ev->event == nullptr || guard_.queryEvent(ev->event);
  }
  std::pair<size_t, size_t> mem_get_info(int d) override {
    if (type_ == c10::DeviceType::CPU) return DeviceRuntime::mem_get_info(d);
    return c10::getDeviceAllocator(type_)->getMemoryInfo(static_cast<c10::DeviceIndex>(d));
  }
  std::optional<c10::Stream> aten_stream(void* handle) const override {
    if (!handle) return std::nullopt;
    return *static_cast<c10::Stream*>(handle);
  }
  double event_elapsed_ms(int d, void* a, void* b) override {
    auto* ea = static_cast<AtenEvent*>(a);
    auto* eb = static_cast<AtenEvent*>(b);
    if (type_ == c10::DeviceType::CPU) {
      TORCH_CHECK(ea->host_time && eb->host_time, "deeplink: both events must be recorded before elapsed_time()");
      return std::chrono::duration<double, std::milli>(*eb->host_time - *ea->host_time).count();
    }
    TORCH_CHECK(ea->event && eb->event, "deeplink: both events must be recorded before elapsed_time()");
    return guard_.elapsedTime(ea->event, eb->event, static_cast<c10::DeviceIndex>(d));
  }

 private:
  c10::Device dev(int d) const { return c10::Device(type_, static_cast<c10::DeviceIndex>(d)); }
  c10::Stream stream_of(int d, void* s) const {
    return s ? *static_cast<c10::Stream*>(s) : guard_.getDefaultStream(dev(d));
  }
  void synchronize_stream(int d, void* s) {
    if (type_ != c10::DeviceType::CPU) guard_.synchronizeStream(stream_of(d, s));
  }

  c10::DeviceType type_;
  c10::impl::VirtualGuardImpl guard_;
  std::mutex mutex_;
  std::unordered_map<void*, c10::DataPtr> live_;
};

}  // namespace

std::shared_ptr<DeviceRuntime> make_aten_runtime(c10::DeviceType type) { return std::make_shared<AtenRuntime>(type); }

}  // namespace deeplink

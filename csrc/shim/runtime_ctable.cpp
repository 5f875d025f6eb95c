// Adapter: a dl_runtime_v1 C function table -> DeviceRuntime. Every failing call becomes a
// c10::Error naming the backend, the function and the runtime's own message.
#include "runtime.h"

namespace deeplink {
namespace {

class CTableRuntime final : public DeviceRuntime {
 public:
  CTableRuntime(std::string backend, const dl_runtime_v1* t) : backend_(std::move(backend)), t_(t) {}

  bool host_accessible() const override { return t_->host_accessible != 0; }
  int device_count() override {
    int n = 0;
    check(t_->device_count(t_->ctx, &n), "device_count");
    return n;
  }
  void set_device(int d) override {
    if (t_->set_device) check(t_->set_device(t_->ctx, d), "set_device");
  }
  void* malloc(int d, size_t n) override {
    void* p = nullptr;
    dl_status s = t_->malloc(t_->ctx, d, n, &p);
    if (s == DL_OUT_OF_MEMORY) {
      TORCH_CHECK_WITH(OutOfMemoryError, false, "deeplink backend '", backend_, "': out of memory allocating ",
                       n, " bytes on device ", d, " (", message(), "). Free tensors or call torch.deeplink.empty_cache().");
    }
    check(s, "malloc");
    return p;
  }
  void free(int d, void* p) override { check(t_->free(t_->ctx, d, p), "free"); }
  void memcpy(int d, void* dst, const void* src, size_t n, dl_memcpy_kind k, void* s) override {
    check(t_->memcpy(t_->ctx, d, dst, src, n, k, s), "memcpy");
  }
  void synchronize(int d) override { check(t_->synchronize(t_->ctx, d), "synchronize"); }
  void* stream_create(int d) override {
    void* s = nullptr;
    check(t_->stream_create(t_->ctx, d, &s), "stream_create");
    return s;
  }
  void stream_destroy(int d, void* s) override { check(t_->stream_destroy(t_->ctx, d, s), "stream_destroy"); }
  void stream_synchronize(int d, void* s) override {
    check(t_->stream_synchronize(t_->ctx, d, s), "stream_synchronize");
  }
  bool stream_query(int d, void* s) override {
    int done = 0;
    check(t_->stream_query(t_->ctx, d, s, &done), "stream_query");
    return done != 0;
  }
  void stream_wait_event(int d, void* s, void* e) override {
    check(t_->stream_wait_event(t_->ctx, d, s, e), "stream_wait_event");
  }
  void* event_create(int d) override {
    void* e = nullptr;
    check(t_->event_create(t_->ctx, d, &e), "event_create");
    return e;
  }
  void event_destroy(int d, void* e) override { check(t_->event_destroy(t_->ctx, d, e), "event_destroy"); }
  void event_record(int d, void* e, void* s) override { check(t_->event_record(t_->ctx, d, e, s), "event_record"); }
  void event_synchronize(int d, void* e) override {
    check(t_->event_synchronize(t_->ctx, d, e), "event_synchronize");
  }
  bool event_query(int d, void* e) override {
    int done = 0;
    check(t_->event_query(t_->ctx, d, e, &done), "event_query");
    return done != 0;
  }
  double event_elapsed_ms(int d, void* a, void* b) override {
    float ms = 0;
    dl_status s = t_->event_elapsed_ms(t_->ctx, d, a, b, &ms);
    TORCH_CHECK_NOT_IMPLEMENTED(s != DL_NOT_IMPLEMENTED, "deeplink backend '", backend_,
                                "' cannot time events (event_elapsed_ms is not implemented by its runtime)");
    check(s, "event_elapsed_ms");
    return ms;
  }

 private:
  std::string message() const {
    const char* m = t_->last_error ? t_->last_error(t_->ctx) : nullptr;
    return m ? std::string(m) : std::string("no message");
  }
  void check(dl_status s, const char* fn) const {
    TORCH_CHECK(s == DL_OK, "deeplink backend '", backend_, "': runtime call ", fn, " failed with status ",
                static_cast<int>(s), ": ", message());
  }
  std::string backend_;
  const dl_runtime_v1* t_;
};

}  // namespace

std::shared_ptr<DeviceRuntime> make_ctable_runtime(const std::string& backend, uintptr_t address) {
  auto* t = reinterpret_cast<const dl_runtime_v1*>(address);
  TORCH_CHECK(t != nullptr, "deeplink backend '", backend, "': runtime table address is NULL");
  TORCH_CHECK(t->abi_version == DL_RUNTIME_ABI_VERSION, "deeplink backend '", backend,
              "': runtime table has ABI version ", t->abi_version, " but this deeplink speaks version ",
              DL_RUNTIME_ABI_VERSION, ". Rebuild the backend against csrc/include/deeplink/runtime.h.");
  TORCH_CHECK(t->struct_size >= sizeof(dl_runtime_v1), "deeplink backend '", backend,
              "': runtime table is ", t->struct_size, " bytes, expected ", sizeof(dl_runtime_v1));
#define DL_REQUIRE(fn) \
  TORCH_CHECK(t->fn != nullptr, "deeplink backend '", backend, "': runtime table lacks required function '" #fn "'")
  DL_REQUIRE(device_count); DL_REQUIRE(malloc); DL_REQUIRE(free); DL_REQUIRE(memcpy); DL_REQUIRE(synchronize);
  DL_REQUIRE(stream_create); DL_REQUIRE(stream_destroy); DL_REQUIRE(stream_synchronize); DL_REQUIRE(stream_query);
  DL_REQUIRE(stream_wait_event); DL_REQUIRE(event_create); DL_REQUIRE(event_destroy); DL_REQUIRE(event_record);
  DL_REQUIRE(event_synchronize); DL_REQUIRE(event_query); DL_REQUIRE(event_elapsed_ms);
#undef DL_REQUIRE
  return std::make_shared<CTableRuntime>(backend, t);
}

}  // namespace deeplink

// The CPU reference backend's runtime: device memory is host memory, copies are memcpy, work is
// synchronous, so streams are trivially complete and events record the host clock when recorded.
// It is exported as a dl_runtime_v1 table so it goes through exactly the path a C vendor runtime takes.
#include "runtime.h"

#include <c10/core/alignment.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace deeplink {
namespace {

thread_local std::string t_last_error;

dl_status fail(dl_status s, std::string msg) {
  t_last_error = std::move(msg);
  return s;
}

int host_device_count() {
  // Two virtual devices by default, so multi-device code paths (guards, deeplink:1, cross-device
  // errors) are exercised on any machine. DEEPLINK_CPU_DEVICES overrides.
  const char* env = std::getenv("DEEPLINK_CPU_DEVICES");
  int n = env ? std::atoi(env) : 2;
  return n > 0 ? n : 1;
}

dl_status h_device_count(void*, int* n) { *n = host_device_count(); return DL_OK; }
dl_status h_set_device(void*, int d) {
  if (d < 0 || d >= host_device_count()) return fail(DL_INVALID_ARGUMENT, "device index " + std::to_string(d) + " out of range");
  return DL_OK;
}
dl_status h_malloc(void*, int, size_t n, void** p) {
  if (n == 0) { *p = nullptr; return DL_OK; }
  // 64-byte alignment like ATen's CPU allocator, so vectorised CPU kernels see the same alignment.
  size_t rounded = (n + c10::gAlignment - 1) / c10::gAlignment * c10::gAlignment;
  *p = std::aligned_alloc(c10::gAlignment, rounded);
  if (*p == nullptr) return fail(DL_OUT_OF_MEMORY, "aligned_alloc(" + std::to_string(n) + ") failed");
  return DL_OK;
}
dl_status h_free(void*, int, void* p) { std::free(p); return DL_OK; }
dl_status h_memcpy(void*, int, void* dst, const void* src, size_t n, dl_memcpy_kind, dl_stream) {
  if (n) std::memcpy(dst, src, n);
  return DL_OK;
}
dl_status h_sync(void*, int) { return DL_OK; }
dl_status h_stream_create(void*, int, dl_stream* s) {
  static std::atomic<uintptr_t> next{1};
  *s = reinterpret_cast<dl_stream>(next++);  // a name only: host work is synchronous
  return DL_OK;
}
dl_status h_stream_destroy(void*, int, dl_stream) { return DL_OK; }
dl_status h_stream_sync(void*, int, dl_stream) { return DL_OK; }
dl_status h_stream_query(void*, int, dl_stream, int* done) { *done = 1; return DL_OK; }
dl_status h_stream_wait(void*, int, dl_stream, dl_event) { return DL_OK; }

struct HostEvent { double ms = -1; };
double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}
dl_status h_event_create(void*, int, dl_event* e) { *e = new HostEvent(); return DL_OK; }
dl_status h_event_destroy(void*, int, dl_event e) { delete static_cast<HostEvent*>(e); return DL_OK; }
dl_status h_event_record(void*, int, dl_event e, dl_stream) { static_cast<HostEvent*>(e)->ms = now_ms(); return DL_OK; }
dl_status h_event_sync(void*, int, dl_event) { return DL_OK; }
dl_status h_event_query(void*, int, dl_event, int* done) { *done = 1; return DL_OK; }
dl_status h_event_elapsed(void*, int, dl_event a, dl_event b, float* ms) {
  auto* ea = static_cast<HostEvent*>(a);
  auto* eb = static_cast<HostEvent*>(b);
  if (ea->ms < 0 || eb->ms < 0) return fail(DL_INVALID_ARGUMENT, "both events must be recorded before elapsed_time()");
  *ms = static_cast<float>(eb->ms - ea->ms);
  return DL_OK;
}
const char* h_last_error(void*) { return t_last_error.c_str(); }

const dl_runtime_v1 kHostRuntime = {
    DL_RUNTIME_ABI_VERSION, sizeof(dl_runtime_v1), "host", nullptr, /*host_accessible=*/1,
    h_device_count, h_set_device, h_malloc, h_free, h_memcpy, h_sync,
    h_stream_create, h_stream_destroy, h_stream_sync, h_stream_query, h_stream_wait,
    h_event_create, h_event_destroy, h_event_record, h_event_sync, h_event_query, h_event_elapsed,
    h_last_error};

}  // namespace

const dl_runtime_v1* host_runtime_table() { return &kHostRuntime; }

}  // namespace deeplink

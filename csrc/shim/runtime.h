// The vendor runtime as the shim sees it: one C++ interface, two adapters (a C function table, or
// a Python object), and the table of registered backends. Everything above this file (allocator,
// copies, guard, streams, events) talks only to DeviceRuntime.
#pragma once

#include <deeplink/runtime.h>

#include <c10/core/DeviceType.h>
#include <c10/core/Stream.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace deeplink {

class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;
  virtual bool host_accessible() const = 0;
  virtual int device_count() = 0;
  virtual void set_device(int device) = 0;
  virtual void* malloc(int device, size_t nbytes) = 0;
  virtual void free(int device, void* ptr) = 0;
  virtual void memcpy(int device, void* dst, const void* src, size_t nbytes, dl_memcpy_kind kind,
                      void* stream) = 0;
  virtual void synchronize(int device) = 0;
  virtual void* stream_create(int device) = 0;
  virtual void stream_destroy(int device, void* stream) = 0;
  virtual void stream_synchronize(int device, void* stream) = 0;
  virtual bool stream_query(int device, void* stream) = 0;
  virtual void stream_wait_event(int device, void* stream, void* event) = 0;
  virtual void* event_create(int device) = 0;
  virtual void event_destroy(int device, void* event) = 0;
  virtual void event_record(int device, void* event, void* stream) = 0;
  virtual void event_synchronize(int device, void* event) = 0;
  virtual bool event_query(int device, void* event) = 0;
  virtual double event_elapsed_ms(int device, void* start, void* end) = 0;
  // The ATen stream behind a stream handle, for runtimes built on an ATen device: Passthrough
  // kernels then run on the stream the user made current on the deeplink device.
  virtual std::optional<c10::Stream> aten_stream(void* /*handle*/) const { return std::nullopt; }
  // (free, total) bytes of the device's memory. Host-memory runtimes report the machine's memory
  // (runtime_memory_info.cpp); others must say, or torch.deeplink.mem_get_info() raises.
  virtual std::pair<size_t, size_t> mem_get_info(int device);
  // True when malloc/free already pool memory (torch's CUDA caching allocator): the shim then frees
  // straight back instead of keeping a second cache that the first could not reuse.
  virtual bool caches() const { return false; }
};

// Wraps a dl_runtime_v1 table (validated: ABI version, size, required functions).
std::shared_ptr<DeviceRuntime> make_ctable_runtime(const std::string& backend, uintptr_t table_address);
// Wraps a Python object shaped like deeplink.runtime.Runtime (calls take the GIL).
std::shared_ptr<DeviceRuntime> make_python_runtime(const std::string& backend, void* py_object);
// A runtime built from an ATen device's allocator, copies and device guard (runtime_aten.cpp).
std::shared_ptr<DeviceRuntime> make_aten_runtime(c10::DeviceType type);
// The CPU reference backend's runtime: plain host memory, as a dl_runtime_v1 table.
const dl_runtime_v1* host_runtime_table();

struct BackendSlot {
  std::string name;
  std::shared_ptr<DeviceRuntime> runtime;
  // ATen device whose kernels can run zero-copy on this backend's memory (Passthrough kernels).
  std::optional<c10::DeviceType> passthrough;
  int device_count = 1;
};

// Registered backends, by id (index). Slots are never removed, so ids stay valid for the life of
// the process: every storage remembers the id of the backend that owns its memory.
int register_backend_slot(BackendSlot slot);
const BackendSlot& backend_slot(int id);
int num_backend_slots();
int active_backend_id();
void set_active_backend_id(int id);
const BackendSlot& active_backend();

}  // namespace deeplink

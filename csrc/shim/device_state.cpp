#include "device_state.h"

#include "runtime.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace deeplink {
namespace {
thread_local int t_device = 0;
thread_local std::unordered_map<int, c10::StreamId> t_stream;  // device -> current stream id

std::mutex g_streams_mutex;
std::unordered_map<int, std::vector<void*>> g_streams;  // device -> runtime handles; id = index + 1
}  // namespace

int device_count() {
  int id = active_backend_id();
  return id < 0 ? 1 : backend_slot(id).device_count;
}

int max_device_count() {
  int most = 1;
  for (int id = 0; id < num_backend_slots(); ++id) most = std::max(most, backend_slot(id).device_count);
  return most;
}

void check_device_index(int device) {
  TORCH_CHECK(device >= 0 && device < device_count(), "deeplink: invalid device index ", device, ": backend '",
              active_backend().name, "' has ", device_count(), " device(s) (torch.deeplink.device_count()).");
}

int current_device() { return t_device; }

void set_current_device(int device) {
  check_device_index(device);
  if (device != t_device) {
    active_backend().runtime->set_device(device);
    t_device = device;
  }
}

c10::Stream current_stream(int device) {
  auto it = t_stream.find(device);
  c10::StreamId id = it == t_stream.end() ? 0 : it->second;
  return c10::Stream(c10::Stream::UNSAFE, c10::Device(c10::DeviceType::PrivateUse1, device), id);
}

void set_current_stream(const c10::Stream& stream) { t_stream[stream.device_index()] = stream.id(); }

c10::Stream new_stream(int device) {
  void* handle = active_backend().runtime->stream_create(device);
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  auto& v = g_streams[device];
  v.push_back(handle);
  return c10::Stream(c10::Stream::UNSAFE, c10::Device(c10::DeviceType::PrivateUse1, device),
                     static_cast<c10::StreamId>(v.size()));
}

void* native_stream(const c10::Stream& stream) {
  if (stream.id() == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  auto& v = g_streams[stream.device_index()];
  TORCH_CHECK(stream.id() > 0 && static_cast<size_t>(stream.id()) <= v.size(), "deeplink: unknown stream id ",
              stream.id(), " on device ", static_cast<int>(stream.device_index()));
  return v[stream.id() - 1];
}

}  // namespace deeplink

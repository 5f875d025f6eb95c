// torch.profiler on the deeplink device: per-op device times from the backend runtime's events.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace deeplink {

// True while a torch.profiler session with the PrivateUse1 activity records (profiler.cpp). The
// router reads it once per op: the whole cost of the profiler when it is off.
extern std::atomic<bool> g_profiling_ops;

// Brackets one routed op with two runtime events on the current stream of its device, and hands
// the pair to the recording session when it ends.
class ProfiledOp {
 public:
  ProfiledOp(const c10::OperatorHandle& op, int backend);
  ~ProfiledOp();
  ProfiledOp(const ProfiledOp&) = delete;
  ProfiledOp& operator=(const ProfiledOp&) = delete;

 private:
  std::string name_;
  int backend_, device_;
  void* stream_;
  void* start_;
  uint64_t correlation_;
  int64_t host_start_ns_;
};

// Registers the legacy profiler stubs (autograd.profiler.profile(use_device="deeplink")) and the
// kineto activity profiler (torch.profiler with ProfilerActivity.PrivateUse1).
void register_profiler();

}  // namespace deeplink

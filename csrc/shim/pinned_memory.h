// Pinned (page-locked) host memory for tensor.pin_memory() and DataLoader(pin_memory=True).
#pragma once

#include <c10/core/Allocator.h>

#include <cstdint>

namespace deeplink {

struct HostMemoryStats {
  int64_t allocated = 0, allocated_peak = 0;  // bytes held by live pinned tensors
  int64_t reserved = 0;                        // bytes mapped (live + cached for reuse)
  int64_t locked = 0;                          // of `reserved`, bytes the OS page-locked
  int64_t host_allocs = 0, host_frees = 0;     // blocks mapped / unmapped
};

// The allocator torch's pin_memory() uses for the deeplink device: the ATen device's own pinned
// allocator for a CUDA-backed backend, else deeplink's page-locked host allocator.
c10::Allocator* pinned_memory_allocator();
bool is_pinned_ptr(const void* p);
HostMemoryStats host_memory_stats();
void empty_host_cache();

}  // namespace deeplink

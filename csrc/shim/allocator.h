// Device memory for deeplink tensors: a device-agnostic caching allocator on top of the active
// backend's runtime, with statistics, plus "adopted" memory (buffers ATen produced for a
// Passthrough kernel, taken over zero-copy). Both kinds carry an OwnerTag, so any storage can say
// which backend and device own it.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/Storage.h>

#include <cstdint>

namespace deeplink {

struct OwnerTag {
  int backend = -1;
  int device = 0;
  size_t nbytes = 0;
};

struct MemoryStats {
  int64_t allocated = 0, allocated_peak = 0;  // bytes held by live storages
  int64_t reserved = 0, reserved_peak = 0;    // bytes obtained from the runtime (live + cached)
  int64_t runtime_mallocs = 0, runtime_frees = 0, cache_hits = 0, adopted = 0;
};

// The c10::Allocator registered for PrivateUse1. Allocates on the current deeplink device from the
// active backend.
c10::Allocator* device_allocator();

// Allocate `nbytes` on (backend, device) through the cache.
c10::DataPtr allocate_on(int backend, int device, size_t nbytes);

// Take over a buffer produced by ATen for device `device` of `backend` without copying: the new
// DataPtr keeps `source` alive and reports itself as deeplink memory.
c10::DataPtr adopt_storage(c10::intrusive_ptr<c10::StorageImpl> source, int backend, int device);

// Owner of a deeplink DataPtr, or nullptr when the memory is not deeplink's (e.g. empty storage).
const OwnerTag* owner_of(const c10::DataPtr& ptr);

MemoryStats memory_stats(int device);
void reset_peak_stats(int device);
void empty_cache();

}  // namespace deeplink

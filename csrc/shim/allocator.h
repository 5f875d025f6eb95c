// Device memory for deeplink tensors: a device-agnostic caching allocator on top of the active
// backend's runtime, with statistics, plus "adopted" memory (buffers ATen produced for a
// Passthrough kernel, taken over zero-copy). Both kinds carry an OwnerTag, so any storage can say
// which backend and device own it.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/Storage.h>

#include <cstdint>

namespace deeplink {

struct OwnerTag {
  int backend = -1;
  int device = 0;
  size_t nbytes = 0;
};

// Counters of deeplink's own that c10's DeviceStats has no field for.
struct MemoryCounts {
  int64_t cache_hits = 0;  // allocations served from the cache
  int64_t adopted = 0;     // buffers made by ATen kernels and taken over without copying
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

// allocated_bytes: bytes held by live storages; reserved_bytes: bytes obtained from the runtime
// (live + cached); allocation / segment: the same as counts.
c10::CachingDeviceAllocator::DeviceStats device_stats(int device);
MemoryCounts memory_counts(int device);
void reset_peak_stats(int device);
void reset_accumulated_stats(int device);
void empty_cache();

}  // namespace deeplink

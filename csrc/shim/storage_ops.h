// Storage-level operations every backend shares: growing a storage, and copying bytes between
// host and device through the owning backend's runtime.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Storage.h>

#include <utility>

namespace deeplink {

// Reallocate `storage` to `new_nbytes` through the deeplink allocator, keeping the old contents.
void resize_storage_bytes(c10::StorageImpl* storage, size_t new_nbytes);

// Backend id owning a deeplink tensor's memory (-1 for empty storage).
int owner_backend(const at::Tensor& t);

class DeviceRuntime;
// The runtime of the backend owning a deeplink tensor's memory.
DeviceRuntime& runtime_of(const at::Tensor& t);

// Elements [lo, hi) of its storage that a strided tensor (with at least one element) can touch.
std::pair<int64_t, int64_t> span_of(const at::Tensor& t);

}  // namespace deeplink

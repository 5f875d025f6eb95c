// Zero-copy views of deeplink memory as tensors of an ATen device (CPU, or CUDA for the CUDA
// backend), so ATen's own kernels can run on deeplink tensors without copies.
//
// An alias shares the bytes, not the StorageImpl: its storage is a separate, non-owning one whose
// DataPtr says "CPU" (or "CUDA"), because ATen kernels check devices and make internal views of
// their inputs. When a kernel grows an alias's storage (out= with the wrong size), the alias's
// allocator takes the new bytes from the deeplink allocator, and `sync_back` moves them into the
// deeplink storage afterwards.
#pragma once

#include <ATen/core/Tensor.h>

namespace deeplink {

struct AliasScope {
  // Backend/device whose allocator serves storage growth of aliases made while this scope lives.
  AliasScope(int backend, int device);
  ~AliasScope();
  int prev_backend, prev_device;
};

at::Tensor make_alias(const at::Tensor& t, c10::DeviceType aten_type);

// After a kernel ran on `alias` (made from `orig`), carry over what the kernel changed in the
// alias's metadata or storage (resize, restride, set_) into `orig`.
void sync_back(const at::Tensor& orig, const at::Tensor& alias);

// Wrap a tensor produced by an ATen kernel as a deeplink tensor owned by (backend, device),
// adopting its storage without copying.
at::Tensor adopt_tensor(const at::Tensor& r, int backend, int device);

// A deeplink tensor viewing `base_storage` with r's sizes, strides and offset.
at::Tensor view_on(const c10::Storage& base_storage, const at::Tensor& r);

}  // namespace deeplink

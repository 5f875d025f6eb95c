// Zero-copy views of deeplink memory as tensors of an ATen device (CPU, or CUDA for the CUDA
// backend), so ATen's own kernels can run on deeplink tensors without copies.
//
// An alias shares the bytes, not the StorageImpl: its storage is a separate, non-owning one whose
// DataPtr says "CPU" (or "CUDA"), because ATen kernels check devices and make internal views of
// their inputs. When a kernel grows an alias's storage (out= with the wrong size), the alias's
// allocator takes the new bytes from the deeplink allocator, and `CallAliases::sync_back` moves
// them into the deeplink storage afterwards.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/SmallVector.h>

#include <vector>

namespace deeplink {

struct AliasScope {
  // Backend/device whose allocator serves storage growth of aliases made while this scope lives.
  AliasScope(int backend, int device);
  ~AliasScope();
  int prev_backend, prev_device;
};

at::Tensor make_alias(const at::Tensor& t, c10::DeviceType aten_type);

// The aliases of one op call: arguments that share a deeplink storage get aliases sharing one
// alias storage, and an argument passed twice gets the same alias tensor, so ATen's memory
// overlap checks (internal, partial, out= aliasing an input) see what they would see on the ATen
// device itself.
class CallAliases {
 public:
  explicit CallAliases(c10::DeviceType aten_type) : type_(aten_type) {}
  at::Tensor alias(const at::Tensor& t);
  // After the kernel ran: carry what it changed (storage growth, set_, resize, restride) back
  // into the deeplink tensors; `written` are the deeplink arguments the op writes.
  void sync_back(const std::vector<at::Tensor>& written);

 private:
  c10::DeviceType type_;
  c10::SmallVector<std::pair<c10::StorageImpl*, c10::Storage>, 4> storages_;  // deeplink -> alias storage
  c10::SmallVector<std::pair<c10::TensorImpl*, at::Tensor>, 4> tensors_;      // deeplink -> alias tensor
};

// Wrap a tensor produced by an ATen kernel as a deeplink tensor owned by (backend, device),
// adopting its storage without copying.
at::Tensor adopt_tensor(const at::Tensor& r, int backend, int device);

// A deeplink tensor viewing `base_storage` with r's sizes, strides and offset.
at::Tensor view_on(const c10::Storage& base_storage, const at::Tensor& r);

}  // namespace deeplink

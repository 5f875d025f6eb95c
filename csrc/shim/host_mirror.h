// CPU copies of the deeplink tensors of one op call, made so that memory shared on the device is
// shared on the CPU too: one host buffer per deeplink storage (covering the bytes the call's
// tensors on it can touch), and each tensor a view of its buffer with the same sizes, strides and
// dtype. ATen's CPU kernels then see the same overlap and aliasing as on the device, so their
// memory-overlap checks fire exactly as for CPU tensors.
//
// Used by the CPU fallback (which writes results back) and by the argument checks of non-ATen
// kernels (which only look at what the CPU kernel raises).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/SmallVector.h>

#include <utility>

namespace deeplink {

class HostMirror {
 public:
  // First every deeplink tensor of the call, then view() for each: the first view() copies.
  void add(const at::Tensor& t);
  at::Tensor view(const at::Tensor& t);
  // After the CPU kernel ran: write the host bytes of `written` deeplink tensors back to the
  // device (a resized or re-pointed one is resized and copied element-wise).
  void write_back(const c10::SmallVector<at::Tensor, 4>& written);

 private:
  struct Span {
    c10::StorageImpl* storage;  // the deeplink storage
    int64_t lo, hi;             // bytes [lo, hi) of it that the call's tensors can touch
    at::Tensor device_any;      // one deeplink tensor on it (device index, owner runtime)
    c10::Storage host;          // the host copy of those bytes
    const void* host_data = nullptr;
    size_t host_nbytes = 0;
  };
  Span* span_of(c10::StorageImpl* s);
  void copy_in();
  c10::SmallVector<Span, 4> spans_;
  c10::SmallVector<std::pair<c10::TensorImpl*, at::Tensor>, 4> views_;
  bool copied_ = false;
};

}  // namespace deeplink

#include "host_mirror.h"

#include "runtime.h"
#include "storage_ops.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace deeplink {
namespace {

// Host buffers start on this boundary, so every view of a storage (whatever its dtype) keeps an
// element offset that is a whole number.
constexpr int64_t kAlign = 16;

bool has_bytes(const at::Tensor& t) { return t.numel() > 0 && t.storage().data() != nullptr; }

std::pair<int64_t, int64_t> byte_span(const at::Tensor& t) {
  auto [lo, hi] = span_of(t);
  const int64_t item = static_cast<int64_t>(t.itemsize());
  return {lo * item, hi * item};
}

at::Tensor view_on_host(const c10::Storage& host, int64_t lo, const at::Tensor& t) {
  auto impl = c10::make_intrusive<c10::TensorImpl>(c10::Storage(host), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                                   t.dtype());
  impl->set_sizes_and_strides(t.sizes(), t.strides(),
                              (t.storage_offset() * static_cast<int64_t>(t.itemsize()) - lo) /
                                  static_cast<int64_t>(t.itemsize()));
  if (t.is_conj()) impl->_set_conj(true);
  if (t.is_neg()) impl->_set_neg(true);
  return at::Tensor(std::move(impl));
}

}  // namespace

HostMirror::Span* HostMirror::span_of(c10::StorageImpl* s) {
  for (Span& sp : spans_)
    if (sp.storage == s) return &sp;
  return nullptr;
}

void HostMirror::add(const at::Tensor& t) {
  if (!has_bytes(t)) return;
  auto [lo, hi] = byte_span(t);
  lo = lo / kAlign * kAlign;
  Span* sp = span_of(t.storage().unsafeGetStorageImpl());
  if (sp == nullptr) {
    spans_.push_back(Span{t.storage().unsafeGetStorageImpl(), lo, hi, t});
  } else {
    sp->lo = std::min(sp->lo, lo);
    sp->hi = std::max(sp->hi, hi);
  }
}

void HostMirror::copy_in() {
  copied_ = true;
  for (Span& sp : spans_) {
    at::Tensor buf = at::empty({sp.hi - sp.lo}, at::TensorOptions().dtype(at::kByte));
    runtime_of(sp.device_any)
        .memcpy(sp.device_any.device().index(), buf.data_ptr(), static_cast<const char*>(sp.storage->data()) + sp.lo,
                sp.hi - sp.lo, DL_MEMCPY_D2H, nullptr);
    sp.host = buf.storage();
    sp.host_data = sp.host.data();
    sp.host_nbytes = sp.host.nbytes();
  }
}

at::Tensor HostMirror::view(const at::Tensor& t) {
  if (!copied_) copy_in();
  for (const auto& [impl, v] : views_)
    if (impl == t.unsafeGetTensorImpl()) return v;
  at::Tensor v;
  Span* sp = has_bytes(t) ? span_of(t.storage().unsafeGetStorageImpl()) : nullptr;
  if (sp == nullptr) {  // no elements (or not added): nothing to share
    v = at::empty_strided(t.sizes(), t.strides(), t.options().device(c10::kCPU));
  } else {
    v = view_on_host(sp->host, sp->lo, t);
  }
  views_.emplace_back(t.unsafeGetTensorImpl(), v);
  return v;
}

void HostMirror::write_back(const c10::SmallVector<at::Tensor, 4>& written) {
  c10::SmallVector<Span*, 4> dirty;
  for (const at::Tensor& orig : written) {
    at::Tensor v;
    for (const auto& [impl, view] : views_)
      if (impl == orig.unsafeGetTensorImpl()) v = view;
    if (!v.defined()) continue;
    Span* sp = has_bytes(orig) ? span_of(orig.storage().unsafeGetStorageImpl()) : nullptr;
    const bool in_place = sp != nullptr && v.storage().unsafeGetStorageImpl() == sp->host.unsafeGetStorageImpl() &&
                          sp->host.data() == sp->host_data && sp->host.nbytes() == sp->host_nbytes &&
                          v.sizes() == orig.sizes() && v.strides() == orig.strides() &&
                          v.storage_offset() == view_on_host(sp->host, sp->lo, orig).storage_offset();
    if (in_place) {
      if (std::find(dirty.begin(), dirty.end(), sp) == dirty.end()) dirty.push_back(sp);
      continue;
    }
    // The kernel resized or re-pointed this output: give the deeplink tensor the new shape and copy.
    if (orig.sizes() != v.sizes()) orig.resize_(v.sizes());
    orig.copy_(v);
  }
  for (Span* sp : dirty) {
    runtime_of(sp->device_any)
        .memcpy(sp->device_any.device().index(), static_cast<char*>(sp->storage->mutable_data()) + sp->lo,
                sp->host.data(), sp->hi - sp->lo, DL_MEMCPY_H2D, nullptr);
  }
}

}  // namespace deeplink

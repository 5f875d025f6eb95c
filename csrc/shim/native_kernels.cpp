// Kernels every backend shares, registered for PrivateUse1 directly (they never reach the router):
// allocation, views (metadata only), resize/set_, copies between host and device, .item().
// They work for any backend because they only use the runtime (memory, memcpy) and tensor metadata.
#include "alias.h"
#include "allocator.h"
#include "device_state.h"
#include "router.h"
#include "runtime.h"
#include "storage_ops.h"

#include <ATen/EmptyTensor.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/view_native.h>
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

namespace deeplink {

int owner_backend(const at::Tensor& t) {
  const OwnerTag* tag = owner_of(t.storage().data_ptr());
  return tag ? tag->backend : active_backend_id();
}

void resize_storage_bytes(c10::StorageImpl* storage, size_t new_nbytes) {
  TORCH_CHECK(storage->resizable(), "deeplink: trying to resize a storage that is not resizable");
  const OwnerTag* tag = owner_of(storage->data_ptr());
  int backend = tag ? tag->backend : active_backend_id();
  int device = tag ? tag->device : current_device();
  c10::DataPtr fresh = allocate_on(backend, device, new_nbytes);
  size_t keep = std::min(new_nbytes, storage->nbytes());
  if (keep > 0 && storage->data() != nullptr)
    backend_slot(backend).runtime->memcpy(device, fresh.get(), storage->data(), keep, DL_MEMCPY_D2D, nullptr);
  storage->set_data_ptr_noswap(std::move(fresh));
  storage->set_nbytes(new_nbytes);
}

DeviceRuntime& runtime_of(const at::Tensor& t) { return *backend_slot(owner_backend(t)).runtime; }

std::pair<int64_t, int64_t> span_of(const at::Tensor& t) {
  int64_t lo = t.storage_offset(), hi = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t ext = (t.size(d) - 1) * t.stride(d);
    if (ext < 0) lo += ext; else hi += ext;
  }
  return {lo, hi + 1};
}

namespace {

void count(const char* name) {
  // One counter per kernel, looked up once.
  thread_local std::unordered_map<const char*, OpCounters*> cache;
  auto& c = cache[name];
  if (!c) c = counters_for(name);
  c->native.fetch_add(1, std::memory_order_relaxed);
}

c10::DeviceIndex index_of(std::optional<c10::Device> d) {
  return (d && d->has_index()) ? d->index() : static_cast<c10::DeviceIndex>(current_device());
}

at::Tensor empty_memory_format(c10::IntArrayRef size, std::optional<c10::ScalarType> dtype,
                               std::optional<c10::Layout>, std::optional<c10::Device> device, std::optional<bool>,
                               std::optional<c10::MemoryFormat> memory_format) {
  count("empty.memory_format");
  c10::DeviceGuard guard(c10::Device(c10::DeviceType::PrivateUse1, index_of(device)));
  return at::detail::empty_generic(size, device_allocator(), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                   c10::dtype_or_default(dtype), memory_format);
}

at::Tensor empty_strided(c10::IntArrayRef size, c10::IntArrayRef stride, std::optional<c10::ScalarType> dtype,
                         std::optional<c10::Layout>, std::optional<c10::Device> device, std::optional<bool>) {
  count("empty_strided");
  c10::DeviceGuard guard(c10::Device(c10::DeviceType::PrivateUse1, index_of(device)));
  return at::detail::empty_strided_generic(size, stride, device_allocator(),
                                           c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), c10::dtype_or_default(dtype));
}

at::Tensor as_strided(const at::Tensor& self, c10::IntArrayRef size, c10::IntArrayRef stride,
                      std::optional<int64_t> offset) {
  count("as_strided");
  return at::native::as_strided_tensorimpl(self, size, stride, offset);
}

at::Tensor view(const at::Tensor& self, c10::IntArrayRef size) {
  count("view");
  return at::native::view(self, size);
}

at::Tensor reshape_alias(const at::Tensor& self, c10::IntArrayRef size, c10::IntArrayRef stride) {
  count("_reshape_alias");
  return at::native::_reshape_alias(self, size, stride);
}

void ensure_storage(const at::Tensor& self, c10::IntArrayRef size, c10::IntArrayRef stride, int64_t offset) {
  size_t needed = at::detail::computeStorageNbytes(size, stride, self.dtype().itemsize(),
                                                   static_cast<size_t>(offset));
  c10::StorageImpl* s = self.storage().unsafeGetStorageImpl();
  if (needed > s->nbytes()) resize_storage_bytes(s, needed);
}

const at::Tensor& resize_(const at::Tensor& self, c10::IntArrayRef size,
                          std::optional<c10::MemoryFormat> memory_format) {
  count("resize_");
  auto* impl = self.unsafeGetTensorImpl();
  impl->set_sizes_contiguous(size);
  if (memory_format && *memory_format != c10::MemoryFormat::Preserve) impl->empty_tensor_restride(*memory_format);
  ensure_storage(self, self.sizes(), self.strides(), self.storage_offset());
  return self;
}

at::Tensor& set_storage_offset(at::Tensor& self, c10::Storage source, int64_t offset, c10::IntArrayRef size,
                               c10::IntArrayRef stride) {
  count("set_.source_Storage_storage_offset");
  TORCH_CHECK(source.device().type() == c10::DeviceType::PrivateUse1 || source.data() == nullptr,
              "deeplink: set_() expects a deeplink storage, got one on ", source.device());
  auto* impl = self.unsafeGetTensorImpl();
  impl->set_storage_keep_dtype(std::move(source));
  if (stride.empty()) {
    impl->set_sizes_contiguous(size);
    impl->set_storage_offset(offset);
  } else {
    impl->set_sizes_and_strides(size, stride, offset);
  }
  ensure_storage(self, self.sizes(), self.strides(), self.storage_offset());
  return self;
}

at::Tensor& set_storage(at::Tensor& self, c10::Storage source) {
  int64_t n = static_cast<int64_t>(source.nbytes() / self.dtype().itemsize());
  return set_storage_offset(self, std::move(source), 0, {n}, {});
}

at::Tensor& set_tensor(at::Tensor& self, const at::Tensor& source) {
  if (self.unsafeGetTensorImpl() == source.unsafeGetTensorImpl()) return self;
  return set_storage_offset(self, source.storage(), source.storage_offset(), source.sizes(), source.strides());
}

at::Tensor& set_empty(at::Tensor& self) {
  c10::Storage empty(c10::Storage::use_byte_size_t(), 0, device_allocator(), /*resizable=*/true);
  return set_storage_offset(self, std::move(empty), 0, {0}, {});
}

// ---------------------------------------------------------------- copies
char* byte_ptr(const at::Tensor& t, int64_t element_offset) {
  return static_cast<char*>(t.storage().mutable_data()) + element_offset * static_cast<int64_t>(t.itemsize());
}


// A CPU tensor with the same values as deeplink tensor `src` (one D2H copy of its storage span).
at::Tensor to_host(const at::Tensor& src) {
  if (src.numel() == 0) return at::empty(src.sizes(), src.options().device(c10::kCPU));
  auto [lo, hi] = span_of(src);
  at::Tensor buf = at::empty({hi - lo}, src.options().device(c10::kCPU));
  runtime_of(src).memcpy(src.device().index(), buf.data_ptr(), byte_ptr(src, lo), (hi - lo) * src.itemsize(),
                         DL_MEMCPY_D2H, nullptr);
  at::Tensor view = buf.as_strided(src.sizes(), src.strides(), src.storage_offset() - lo);
  if (src.is_conj()) view._set_conj(true);
  if (src.is_neg()) view._set_neg(true);
  return view;
}

// Write CPU values `src` (already dst's dtype and shape) into deeplink tensor `dst`.
void from_host(const at::Tensor& dst, const at::Tensor& src) {
  if (dst.numel() == 0) return;
  DeviceRuntime& rt = runtime_of(dst);
  int dev = dst.device().index();
  if (dst.is_contiguous()) {
    at::Tensor c = src.contiguous();
    rt.memcpy(dev, dst.data_ptr(), c.data_ptr(), dst.numel() * dst.itemsize(), DL_MEMCPY_H2D, nullptr);
    return;
  }
  // Strided destination: read its span, update it on the host, write it back, so bytes between
  // the strided elements are preserved.
  auto [lo, hi] = span_of(dst);
  at::Tensor buf = at::empty({hi - lo}, dst.options().device(c10::kCPU));
  size_t nbytes = (hi - lo) * dst.itemsize();
  rt.memcpy(dev, buf.data_ptr(), byte_ptr(dst, lo), nbytes, DL_MEMCPY_D2H, nullptr);
  buf.as_strided(dst.sizes(), dst.strides(), dst.storage_offset() - lo).copy_(src);
  rt.memcpy(dev, byte_ptr(dst, lo), buf.data_ptr(), nbytes, DL_MEMCPY_H2D, nullptr);
}

bool is_deeplink(const at::Tensor& t) { return t.device().type() == c10::DeviceType::PrivateUse1; }

at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool /*non_blocking: copies are synchronous*/) {
  count("_copy_from");
  const at::Tensor& src = self;
  if (dst.numel() == 0 || dst.is_same(src)) return dst;
  // ATen's copy_ hands deeplink copies to _copy_from before its own TensorIterator would check
  // memory overlap, so the checks are made here, as copy_ makes them on the CPU.
  if (is_deeplink(dst)) {
    if (is_deeplink(src) && src.is_alias_of(dst) && src.storage_offset() == dst.storage_offset() &&
        src.sizes() == dst.sizes() && src.strides() == dst.strides() && src.dtype() == dst.dtype() &&
        src.is_conj() == dst.is_conj() && src.is_neg() == dst.is_neg())
      return dst;  // the same elements: nothing to do
    at::assert_no_internal_overlap(dst);
    if (is_deeplink(src)) at::assert_no_partial_overlap(dst, src);
  }
  if (is_deeplink(src) && is_deeplink(dst)) {
    int sb = owner_backend(src), db = owner_backend(dst);
    const BackendSlot& slot = backend_slot(db);
    if (sb == db && slot.passthrough) {
      // Same backend, ATen can address it: let ATen copy (dtype conversion, broadcasting, strides).
      AliasScope scope(db, dst.device().index());
      make_alias(dst, *slot.passthrough).copy_(make_alias(src, *slot.passthrough));
      return dst;
    }
    if (sb == db && src.device() == dst.device() && src.dtype() == dst.dtype() && src.sizes() == dst.sizes() &&
        src.is_contiguous() && dst.is_contiguous() && !src.is_conj() && !src.is_neg()) {
      slot.runtime->memcpy(dst.device().index(), dst.data_ptr(), src.data_ptr(), dst.numel() * dst.itemsize(),
                           DL_MEMCPY_D2D, nullptr);
      return dst;
    }
    // Different dtype/layout/device/backend and no ATen kernels to convert on the device: stage on the host.
    from_host(dst, to_host(src).to(dst.scalar_type()).expand_as(dst).resolve_conj().resolve_neg());
    return dst;
  }
  // The other side lives on the backend's own ATen device (a cuda tensor beside a deeplink tensor on
  // the cuda backend): ATen copies on the device through an alias, no round trip through the host.
  const at::Tensor& ours = is_deeplink(dst) ? dst : src;
  const at::Tensor& theirs = is_deeplink(dst) ? src : dst;
  const BackendSlot& slot = backend_slot(owner_backend(ours));
  if (slot.passthrough && *slot.passthrough != c10::DeviceType::CPU && theirs.device().type() == *slot.passthrough) {
    AliasScope scope(owner_backend(ours), ours.device().index());
    if (is_deeplink(dst)) make_alias(dst, *slot.passthrough).copy_(src);
    else dst.copy_(make_alias(src, *slot.passthrough));
    return dst;
  }
  if (is_deeplink(dst)) {  // host -> device
    at::Tensor s = src.to(c10::kCPU).to(dst.scalar_type()).expand_as(dst).resolve_conj().resolve_neg();
    from_host(dst, s);
    return dst;
  }
  // device -> host (dst is a CPU tensor)
  if (dst.device().type() != c10::DeviceType::CPU) {  // another accelerator: stage on the host
    dst.copy_(to_host(src));
    return dst;
  }
  if (src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype() && src.sizes() == dst.sizes() &&
      !src.is_conj() && !src.is_neg()) {
    runtime_of(src).memcpy(src.device().index(), dst.data_ptr(), src.data_ptr(), src.numel() * src.itemsize(),
                           DL_MEMCPY_D2H, nullptr);
    return dst;
  }
  dst.copy_(to_host(src));
  return dst;
}

at::Tensor copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
  if (dst.sizes() != self.sizes()) dst.resize_(self.sizes());
  return copy_from(self, dst, false);
}

c10::Scalar local_scalar_dense(const at::Tensor& self) {
  count("_local_scalar_dense");
  return at::_local_scalar_dense(to_host(self));
}

// `module.to("deeplink")` keeps parameter identity (and so tied weights, e.g. GPT-2's lm_head and
// wte) only when torch considers CPU and deeplink tensors shallow-copy compatible; c10's built-in
// rule does not know PrivateUse1.
bool has_compatible_shallow_copy_type(const at::Tensor& self, const at::Tensor& from) {
  auto dense = [](const at::Tensor& t) {
    auto type = t.device().type();
    return t.layout() == c10::kStrided && !t.is_quantized() && !t.is_nested() &&
           (type == c10::DeviceType::CPU || type == c10::DeviceType::CUDA || type == c10::DeviceType::PrivateUse1);
  };
  return dense(self) && dense(from);
}

}  // namespace
}  // namespace deeplink

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  using namespace deeplink;
  m.impl("empty.memory_format", TORCH_FN(empty_memory_format));
  m.impl("empty_strided", TORCH_FN(empty_strided));
  m.impl("as_strided", TORCH_FN(as_strided));
  m.impl("view", TORCH_FN(view));
  m.impl("_reshape_alias", TORCH_FN(reshape_alias));
  m.impl("resize_", TORCH_FN(resize_));
  m.impl("set_.source_Storage_storage_offset", TORCH_FN(set_storage_offset));
  m.impl("set_.source_Storage", TORCH_FN(set_storage));
  m.impl("set_.source_Tensor", TORCH_FN(set_tensor));
  m.impl("set_", TORCH_FN(set_empty));
  m.impl("_copy_from", TORCH_FN(copy_from));
  m.impl("_copy_from_and_resize", TORCH_FN(copy_from_and_resize));
  m.impl("_local_scalar_dense", TORCH_FN(local_scalar_dense));
  m.impl("_has_compatible_shallow_copy_type", TORCH_FN(has_compatible_shallow_copy_type));
}

// _copy_from understands conjugate and negative views itself (it copies the bits along and lets
// ATen resolve them); without these fallthroughs the Conjugate fallback would materialise its
// input with clone(), which copies through _copy_from again, forever.
TORCH_LIBRARY_IMPL(aten, Conjugate, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}
TORCH_LIBRARY_IMPL(aten, Negative, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}

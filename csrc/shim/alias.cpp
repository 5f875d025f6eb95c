#include "alias.h"

#include "allocator.h"

#include <c10/core/TensorImpl.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>

namespace deeplink {
namespace {

thread_local int t_backend = -1;
thread_local int t_device = 0;

// Serves storage growth of aliases (an out= kernel resizing its output, nonzero, masked_select):
// the bytes come from the deeplink allocator (so they can be moved into the deeplink storage
// afterwards) but are labelled with the alias's ATen device, as that device's resize code expects.
class GrowthAllocator final : public c10::Allocator {
 public:
  explicit GrowthAllocator(c10::DeviceType type) : type_(type) {}
  c10::DataPtr allocate(size_t n) override {
    TORCH_CHECK(t_backend >= 0, "deeplink: internal error: alias storage grown outside a kernel call");
    c10::DataPtr dp = allocate_on(t_backend, t_device, n);
    dp.unsafe_set_device(type_ == c10::DeviceType::CPU ? c10::Device(type_)
                                                        : c10::Device(type_, static_cast<c10::DeviceIndex>(t_device)));
    return dp;
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    // Only reached for host memory (storage copies of CPU aliases); device memory is never memcpy'd.
    TORCH_CHECK(type_ == c10::DeviceType::CPU, "deeplink: internal error: host memcpy of ", type_, " alias memory");
    std::memcpy(dest, src, count);
  }

 private:
  c10::DeviceType type_;
};

GrowthAllocator g_growth_cpu(c10::DeviceType::CPU);
GrowthAllocator g_growth_cuda(c10::DeviceType::CUDA);

c10::DispatchKey key_for(c10::DeviceType t) {
  return t == c10::DeviceType::CUDA ? c10::DispatchKey::CUDA : c10::DispatchKey::CPU;
}

}  // namespace

AliasScope::AliasScope(int backend, int device) : prev_backend(t_backend), prev_device(t_device) {
  t_backend = backend;
  t_device = device;
}
AliasScope::~AliasScope() {
  t_backend = prev_backend;
  t_device = prev_device;
}

namespace {

c10::Storage alias_storage(const c10::StorageImpl* src, c10::DeviceType aten_type, c10::DeviceIndex index) {
  c10::Device dev = aten_type == c10::DeviceType::CPU ? c10::Device(c10::DeviceType::CPU) : c10::Device(aten_type, index);
  return c10::Storage(c10::make_intrusive<c10::StorageImpl>(
      c10::StorageImpl::use_byte_size_t(), src->nbytes(), c10::DataPtr(const_cast<void*>(src->data()), dev),
      aten_type == c10::DeviceType::CPU ? &g_growth_cpu : &g_growth_cuda, /*resizable=*/true));
}

at::Tensor alias_on(const c10::Storage& storage, const at::Tensor& t, c10::DeviceType aten_type) {
  auto impl = c10::make_intrusive<c10::TensorImpl>(c10::Storage(storage), c10::DispatchKeySet(key_for(aten_type)),
                                                   t.dtype());
  impl->set_sizes_and_strides(t.sizes(), t.strides(), t.storage_offset());
  if (t.is_conj()) impl->_set_conj(true);
  if (t.is_neg()) impl->_set_neg(true);
  return at::Tensor(std::move(impl));
}

// Carry a kernel's change of an alias storage (growth through GrowthAllocator, or set_ to memory
// ATen allocated) into the deeplink storage it aliases.
void sync_storage(c10::StorageImpl* os, c10::StorageImpl* as, c10::Device dev) {
  if (as->data() == os->data() && as->nbytes() == os->nbytes()) return;
  if (owner_of(as->data_ptr()) != nullptr) {
    // Grown through GrowthAllocator: the bytes are deeplink's; move them over.
    c10::DataPtr dp = as->set_data_ptr(c10::DataPtr(nullptr, as->device()));
    dp.unsafe_set_device(dev);
    os->set_data_ptr_noswap(std::move(dp));
    os->set_nbytes(as->nbytes());
  } else if (as->data() != os->data()) {
    // The kernel pointed the alias at memory ATen allocated (e.g. set_ to a fresh buffer): adopt it.
    c10::intrusive_ptr<c10::StorageImpl> keep = c10::intrusive_ptr<c10::StorageImpl>::reclaim_copy(as);
    auto* tag = owner_of(os->data_ptr());
    int backend = tag ? tag->backend : 0;
    os->set_data_ptr_noswap(adopt_storage(std::move(keep), backend, dev.index()));
    os->set_nbytes(as->nbytes());
  } else {
    os->set_nbytes(as->nbytes());
  }
}

}  // namespace

at::Tensor make_alias(const at::Tensor& t, c10::DeviceType aten_type) {
  return alias_on(alias_storage(t.storage().unsafeGetStorageImpl(), aten_type, t.device().index()), t, aten_type);
}

at::Tensor CallAliases::alias(const at::Tensor& t) {
  c10::TensorImpl* ti = t.unsafeGetTensorImpl();
  for (const auto& [impl, a] : tensors_)
    if (impl == ti) return a;
  c10::StorageImpl* si = t.storage().unsafeGetStorageImpl();
  const c10::Storage* storage = nullptr;
  for (const auto& [impl, s] : storages_)
    if (impl == si) storage = &s;
  if (storage == nullptr) {
    storages_.emplace_back(si, alias_storage(si, type_, t.device().index()));
    storage = &storages_.back().second;
  }
  at::Tensor a = alias_on(*storage, t, type_);
  tensors_.emplace_back(ti, a);
  return a;
}

void CallAliases::sync_back(const std::vector<at::Tensor>& written) {
  c10::SmallVector<c10::StorageImpl*, 4> synced;
  for (const at::Tensor& w : written) {
    c10::TensorImpl* oi = w.unsafeGetTensorImpl();
    const at::Tensor* alias = nullptr;
    for (const auto& [impl, a] : tensors_)
      if (impl == oi) alias = &a;
    if (alias == nullptr) continue;
    c10::StorageImpl* os = w.storage().unsafeGetStorageImpl();
    c10::StorageImpl* as = alias->storage().unsafeGetStorageImpl();
    // Storages shared by several arguments are synced once; a storage the kernel swapped in (set_)
    // is this argument's own.
    bool shared = false;
    for (const auto& [impl, s] : storages_)
      shared |= impl == os && s.unsafeGetStorageImpl() == as;
    if (!shared || std::find(synced.begin(), synced.end(), os) == synced.end()) {
      sync_storage(os, as, w.device());
      if (shared) synced.push_back(os);
    }
    if (oi->sizes() != alias->sizes() || oi->strides() != alias->strides() ||
        oi->storage_offset() != alias->storage_offset())
      oi->set_sizes_and_strides(alias->sizes(), alias->strides(), alias->storage_offset());
  }
}

at::Tensor adopt_tensor(const at::Tensor& r, int backend, int device) {
  c10::StorageImpl* src = r.storage().unsafeGetStorageImpl();
  size_t nbytes = src->nbytes();
  TORCH_CHECK(nbytes == 0 || src->data() != nullptr, "deeplink: an ATen kernel returned a ", r.sizes(),
              " tensor without memory (", r.key_set(), "); it cannot be adopted");
  c10::DataPtr dp = adopt_storage(c10::intrusive_ptr<c10::StorageImpl>::reclaim_copy(src), backend, device);
  c10::Storage storage(c10::make_intrusive<c10::StorageImpl>(c10::StorageImpl::use_byte_size_t(), nbytes,
                                                              std::move(dp), device_allocator(), /*resizable=*/true));
  return view_on(storage, r);
}

at::Tensor view_on(const c10::Storage& base_storage, const at::Tensor& r) {
  auto impl = c10::make_intrusive<c10::TensorImpl>(c10::Storage(base_storage),
                                                   c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), r.dtype());
  impl->set_sizes_and_strides(r.sizes(), r.strides(), r.storage_offset());
  if (r.is_conj()) impl->_set_conj(true);
  if (r.is_neg()) impl->_set_neg(true);
  return at::Tensor(std::move(impl));
}

}  // namespace deeplink

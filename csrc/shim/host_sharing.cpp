// Sharing deeplink tensors between processes (torch.multiprocessing queues, DataLoader workers)
// for backends whose memory is host memory: the storage's bytes move into a shared-memory CPU
// storage that deeplink adopts in place, so producer and consumers then use the same pages.
// deeplink/process_sharing.py does the pickling around these two functions.
#include "alias.h"
#include "allocator.h"
#include "device_state.h"
#include "runtime.h"

#include <c10/core/Storage.h>
#include <c10/core/StorageImpl.h>

namespace deeplink {

namespace {
std::pair<int, int> owner_and_device(const c10::Storage& s) {
  const OwnerTag* tag = owner_of(s.data_ptr());
  return tag ? std::make_pair(tag->backend, tag->device) : std::make_pair(active_backend_id(), current_device());
}
}  // namespace

void move_into_host_storage(const c10::Storage& storage, const c10::Storage& shared) {
  TORCH_CHECK(storage.device_type() == c10::DeviceType::PrivateUse1, "deeplink: expected a deeplink storage, got ",
              storage.device());
  auto [backend, device] = owner_and_device(storage);
  const BackendSlot& slot = backend_slot(backend);
  TORCH_CHECK(slot.runtime->host_accessible(), "deeplink: backend '", slot.name, "' keeps its memory on the device, "
              "so its tensors cannot be shared between processes through host memory; send tensor.cpu() instead");
  TORCH_CHECK(shared.device_type() == c10::DeviceType::CPU && shared.nbytes() == storage.nbytes(),
              "deeplink: internal error: shared storage of ", shared.nbytes(), " bytes for ", storage.nbytes());
  if (storage.nbytes() > 0)
    slot.runtime->memcpy(device, shared.mutable_data(), storage.data(), storage.nbytes(), DL_MEMCPY_D2H, nullptr);
  c10::intrusive_ptr<c10::StorageImpl> keep = c10::intrusive_ptr<c10::StorageImpl>::reclaim_copy(
      shared.unsafeGetStorageImpl());
  storage.unsafeGetStorageImpl()->set_data_ptr_noswap(adopt_storage(std::move(keep), backend, device));
}

c10::Storage storage_from_host(const c10::Storage& shared, int backend, int device) {
  TORCH_CHECK(backend_slot(backend).runtime->host_accessible(), "deeplink: backend '", backend_slot(backend).name,
              "' cannot take host memory as its device memory");
  const size_t nbytes = shared.nbytes();
  c10::intrusive_ptr<c10::StorageImpl> keep = c10::intrusive_ptr<c10::StorageImpl>::reclaim_copy(
      shared.unsafeGetStorageImpl());
  c10::DataPtr dp = adopt_storage(std::move(keep), backend, device);
  return c10::Storage(c10::make_intrusive<c10::StorageImpl>(c10::StorageImpl::use_byte_size_t(), nbytes, std::move(dp),
                                                            device_allocator(), /*resizable=*/false));
}

}  // namespace deeplink

#include "allocator.h"

#include "device_state.h"
#include "runtime.h"

#include <c10/core/CPUAllocator.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace deeplink {
namespace {

struct Block : OwnerTag {
  void* ptr = nullptr;
  size_t size = 0;  // rounded size, what the runtime gave us
};

struct Adopted : OwnerTag {
  c10::intrusive_ptr<c10::StorageImpl> source;
};

// Sizes are rounded so that a training loop's repeating shapes hit the cache: 512 B steps up to
// 1 MiB, 128 KiB steps above. Only exact rounded sizes are reused (predictable, no splitting).
size_t round_size(size_t n) {
  if (n <= (1u << 20)) return (n + 511) & ~size_t(511);
  constexpr size_t kStep = 128 * 1024;
  return (n + kStep - 1) / kStep * kStep;
}

struct Pool {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_blocks;
};

std::mutex g_pools_mutex;
std::map<std::pair<int, int>, Pool> g_pools;   // by (backend, device)

Pool& pool_for(int backend, int device) {
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  return g_pools[{backend, device}];  // std::map nodes are stable
}

// Statistics are updated on every allocation and free (twice per op), so they are lock-free
// atomics in a fixed table indexed by device.
constexpr int kMaxDevices = 64;
struct AtomicStats {
  std::atomic<int64_t> allocated{0}, allocated_peak{0}, reserved{0}, reserved_peak{0};
  std::atomic<int64_t> runtime_mallocs{0}, runtime_frees{0}, cache_hits{0}, adopted{0};
};
AtomicStats g_stats[kMaxDevices];

void raise_peak(std::atomic<int64_t>& peak, int64_t value) {
  int64_t seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void account(int device, int64_t d_alloc, int64_t d_reserved, int64_t mallocs, int64_t frees, int64_t hits,
             int64_t adopted) {
  AtomicStats& s = g_stats[device & (kMaxDevices - 1)];
  if (d_alloc) raise_peak(s.allocated_peak, s.allocated.fetch_add(d_alloc, std::memory_order_relaxed) + d_alloc);
  if (d_reserved) raise_peak(s.reserved_peak, s.reserved.fetch_add(d_reserved, std::memory_order_relaxed) + d_reserved);
  if (mallocs) s.runtime_mallocs.fetch_add(mallocs, std::memory_order_relaxed);
  if (frees) s.runtime_frees.fetch_add(frees, std::memory_order_relaxed);
  if (hits) s.cache_hits.fetch_add(hits, std::memory_order_relaxed);
  if (adopted) s.adopted.fetch_add(adopted, std::memory_order_relaxed);
}

void free_block(void* ctx) {
  auto* b = static_cast<Block*>(ctx);
  const BackendSlot& slot = backend_slot(b->backend);
  if (slot.runtime->caches()) {
    slot.runtime->free(b->device, b->ptr);
    account(b->device, -static_cast<int64_t>(b->size), -static_cast<int64_t>(b->size), 0, 1, 0, 0);
    delete b;
    return;
  }
  Pool& pool = pool_for(b->backend, b->device);
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.free_blocks[b->size].push_back(b->ptr);
  }
  account(b->device, -static_cast<int64_t>(b->size), 0, 0, 0, 0, 0);
  delete b;
}

void free_adopted(void* ctx) {
  auto* a = static_cast<Adopted*>(ctx);
  account(a->device, -static_cast<int64_t>(a->nbytes), 0, 0, 0, 0, 0);
  delete a;  // drops the reference to the ATen storage, which frees it through its own allocator
}

class DeviceAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t nbytes) override {
    return allocate_on(active_backend_id(), current_device(), nbytes);
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    const BackendSlot& b = active_backend();
    b.runtime->memcpy(current_device(), dest, src, count, DL_MEMCPY_D2D, nullptr);
  }
};

DeviceAllocator g_allocator;
// torch.UntypedStorage(n, device="deeplink"), deserialisation and friends ask c10 for the
// device's allocator.
REGISTER_ALLOCATOR(c10::DeviceType::PrivateUse1, &g_allocator);

}  // namespace

c10::Allocator* device_allocator() { return &g_allocator; }

c10::DataPtr allocate_on(int backend, int device, size_t nbytes) {
  c10::Device dev(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device));
  if (nbytes == 0) return c10::DataPtr(nullptr, dev);
  const BackendSlot& slot = backend_slot(backend);
  const bool own_cache = !slot.runtime->caches();
  size_t size = own_cache ? round_size(nbytes) : nbytes;
  Pool& pool = pool_for(backend, device);
  void* p = nullptr;
  if (own_cache) {
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto it = pool.free_blocks.find(size);
    if (it != pool.free_blocks.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    }
  }
  if (p) {
    account(device, size, 0, 0, 0, 1, 0);
  } else {
    try {
      p = slot.runtime->malloc(device, size);
    } catch (const c10::OutOfMemoryError&) {
      empty_cache();  // give cached blocks back to the runtime, then retry once
      p = slot.runtime->malloc(device, size);
    }
    account(device, size, size, 1, 0, 0, 0);
  }
  auto* b = new Block();
  b->backend = backend;
  b->device = device;
  b->nbytes = nbytes;
  b->ptr = p;
  b->size = size;
  return c10::DataPtr(p, b, &free_block, dev);
}

c10::DataPtr adopt_storage(c10::intrusive_ptr<c10::StorageImpl> source, int backend, int device) {
  void* p = source->mutable_data();
  auto* a = new Adopted();
  a->backend = backend;
  a->device = device;
  a->nbytes = source->nbytes();
  a->source = std::move(source);
  account(device, a->nbytes, 0, 0, 0, 0, 1);
  return c10::DataPtr(p, a, &free_adopted, c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
}

const OwnerTag* owner_of(const c10::DataPtr& ptr) {
  auto del = ptr.get_deleter();
  if (del == &free_block || del == &free_adopted) return static_cast<const OwnerTag*>(ptr.get_context());
  return nullptr;
}

MemoryStats memory_stats(int device) {
  const AtomicStats& a = g_stats[device & (kMaxDevices - 1)];
  MemoryStats s;
  s.allocated = a.allocated;
  s.allocated_peak = a.allocated_peak;
  s.reserved = a.reserved;
  s.reserved_peak = a.reserved_peak;
  s.runtime_mallocs = a.runtime_mallocs;
  s.runtime_frees = a.runtime_frees;
  s.cache_hits = a.cache_hits;
  s.adopted = a.adopted;
  return s;
}

void reset_peak_stats(int device) {
  AtomicStats& s = g_stats[device & (kMaxDevices - 1)];
  s.allocated_peak = s.allocated.load();
  s.reserved_peak = s.reserved.load();
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  for (auto& [key, pool] : g_pools) {
    std::lock_guard<std::mutex> plock(pool.mutex);
    const BackendSlot& slot = backend_slot(key.first);
    for (auto& [size, ptrs] : pool.free_blocks) {
      for (void* p : ptrs) slot.runtime->free(key.second, p);
      account(key.second, 0, -static_cast<int64_t>(size * ptrs.size()), 0, ptrs.size(), 0, 0);
    }
    pool.free_blocks.clear();
  }
}

}  // namespace deeplink

#include "allocator.h"

#include "device_state.h"
#include "runtime.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/CachingDeviceAllocator.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
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

// The runtime's memory is trusted only this far: a pointer must be non-NULL, aligned like
// malloc's, and not one the runtime already gave out (a vendor bug that would make two tensors
// share memory).
constexpr uintptr_t kAlignment = alignof(std::max_align_t);

// Sizes are rounded so that a training loop's repeating shapes hit the cache: 512 B steps up to
// 1 MiB, 128 KiB steps above. Only exact rounded sizes are reused (predictable, no splitting).
size_t round_size(size_t n) {
  if (n <= (1u << 20)) return (n + 511) & ~size_t(511);
  constexpr size_t kStep = 128 * 1024;
  return (n + kStep - 1) / kStep * kStep;
}

struct Unfreed {
  void* ptr;
  size_t size;
  bool reserved;  // counted in the reserved bytes (a refused pointer never was)
};

// One per (backend, device). Every pointer the runtime gave out is in exactly one of: `live`
// (held by a storage), `free_blocks` (cached for reuse), `unfreed` (its runtime free failed; retried
// by empty_cache). Runtime calls are made outside the mutex: a Python runtime may run arbitrary
// Python, which may free tensors, which comes back here.
struct Pool {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_blocks;
  std::unordered_set<void*> live, cached;
  std::vector<Unfreed> unfreed;
};

std::mutex g_pools_mutex;
std::map<std::pair<int, int>, Pool> g_pools;   // by (backend, device)

Pool& pool_for(int backend, int device) {
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  return g_pools[{backend, device}];  // std::map nodes are stable
}

// Statistics are updated on every allocation and free (twice per op), so they are lock-free
// atomics in a fixed table with one row per possible device index (c10::DeviceIndex is 8 bits).
// Each quantity keeps what c10's Stat keeps (current, peak, and the running totals allocated /
// freed), so torch.accelerator.memory_stats() reads them.
constexpr int kMaxDevices = 128;
struct AtomicStat {
  std::atomic<int64_t> current{0}, peak{0}, allocated{0}, freed{0};
  void add(int64_t delta) {
    if (delta == 0) return;
    int64_t now = current.fetch_add(delta, std::memory_order_relaxed) + delta;
    if (delta > 0) {
      allocated.fetch_add(delta, std::memory_order_relaxed);
      int64_t seen = peak.load(std::memory_order_relaxed);
      while (now > seen && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
      }
    } else {
      freed.fetch_add(-delta, std::memory_order_relaxed);
    }
  }
  c10::CachingAllocator::Stat load() const {
    c10::CachingAllocator::Stat s;
    s.current = current.load(std::memory_order_relaxed);
    s.peak = peak.load(std::memory_order_relaxed);
    s.allocated = allocated.load(std::memory_order_relaxed);
    s.freed = freed.load(std::memory_order_relaxed);
    return s;
  }
  void reset_peak() { peak = current.load(); }
  void reset_accumulated() {
    allocated = 0;
    freed = 0;
  }
};
struct AtomicStats {
  AtomicStat allocated_bytes, reserved_bytes, allocations, segments;
  std::atomic<int64_t> cache_hits{0}, adopted{0}, ooms{0}, alloc_retries{0};
};
AtomicStats g_stats[kMaxDevices];

AtomicStats& stats_of(int device) {
  TORCH_CHECK(device >= 0 && device < kMaxDevices, "deeplink: device index ", device, " out of range [0, ",
              kMaxDevices, ")");
  return g_stats[device];
}

// One allocation (or free, with negative deltas) of `bytes` held by a live storage; `runtime_bytes`
// is what the runtime gave (or took back) at the same time (0 when served from the cache).
void account(int device, int64_t bytes, int64_t runtime_bytes) {
  AtomicStats& s = stats_of(device);
  s.allocated_bytes.add(bytes);
  if (bytes) s.allocations.add(bytes > 0 ? 1 : -1);
  s.reserved_bytes.add(runtime_bytes);
  if (runtime_bytes) s.segments.add(runtime_bytes > 0 ? 1 : -1);
}

// Frees a block through the runtime; on failure keeps it for empty_cache to retry and returns the
// error text (the memory is still the runtime's: reserved stays counted).
std::string release(int backend, int device, Pool& pool, const Unfreed& block) {
  try {
    backend_slot(backend).runtime->free(device, block.ptr);
    if (block.reserved) account(device, 0, -static_cast<int64_t>(block.size));
    return "";
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.unfreed.push_back(block);
    return e.what();
  }
}

// The deleter of every block: runs inside storage destructors, so it must never throw.
void free_block(void* ctx) {
  auto* b = static_cast<Block*>(ctx);
  Pool& pool = pool_for(b->backend, b->device);
  const bool runtime_caches = backend_slot(b->backend).runtime->caches();
  bool cache_it = false;
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.live.erase(b->ptr);
    if (!runtime_caches && pool.cached.insert(b->ptr).second) {
      pool.free_blocks[b->size].push_back(b->ptr);
      cache_it = true;
    }
  }
  account(b->device, -static_cast<int64_t>(b->size), 0);
  if (runtime_caches) {
    std::string error = release(b->backend, b->device, pool, {b->ptr, b->size, true});
    if (!error.empty()) TORCH_WARN("deeplink backend '", backend_slot(b->backend).name, "': runtime free failed (",
                                   error, "); the block is kept and retried by torch.deeplink.empty_cache()");
  } else if (!cache_it) {
    TORCH_WARN("deeplink: internal error: block ", b->ptr, " freed twice; ignored");
  }
  delete b;
}

void free_adopted(void* ctx) {
  auto* a = static_cast<Adopted*>(ctx);
  account(a->device, -static_cast<int64_t>(a->nbytes), 0);
  delete a;  // drops the reference to the ATen storage, which frees it through its own allocator
}

// A c10::DeviceAllocator, so torch.accelerator.memory_allocated() / memory_stats() /
// empty_cache() / get_memory_info() work on the deeplink device as they do on CUDA.
class DeviceAllocator final : public c10::DeviceAllocator {
 public:
  c10::DataPtr allocate(size_t nbytes) override {
    return allocate_on(active_backend_id(), current_device(), nbytes);
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    const BackendSlot& b = active_backend();
    b.runtime->memcpy(current_device(), dest, src, count, DL_MEMCPY_D2D, nullptr);
  }
  bool initialized() override { return active_backend_id() >= 0; }
  void emptyCache(c10::MempoolId_t) override { empty_cache(); }
  // Blocks go back to the cache when their storage dies, without waiting for other streams: the
  // backends here run their streams in order on the host (see docs/device.md, streams).
  void recordStream(const c10::DataPtr&, c10::Stream) override {}
  c10::CachingDeviceAllocator::DeviceStats getDeviceStats(c10::DeviceIndex device) override {
    return device_stats(device);
  }
  void resetAccumulatedStats(c10::DeviceIndex device) override { reset_accumulated_stats(device); }
  void resetPeakStats(c10::DeviceIndex device) override { reset_peak_stats(device); }
  std::pair<size_t, size_t> getMemoryInfo(c10::DeviceIndex device) override {
    return active_backend().runtime->mem_get_info(device);
  }
};

DeviceAllocator g_allocator;
// torch.UntypedStorage(n, device="deeplink"), deserialisation and friends ask c10 for the
// device's allocator.
REGISTER_ALLOCATOR(c10::DeviceType::PrivateUse1, &g_allocator);

std::string hex(const void* p) {
  std::ostringstream os;
  os << p;
  return os.str();
}

// A pointer fresh from runtime malloc, checked (see kAlignment). A bad one is refused with an
// error naming the backend and the call; a misaligned one is given back to the runtime first.
void* checked_malloc(const BackendSlot& slot, int backend, int device, size_t size, Pool& pool) {
  void* p = slot.runtime->malloc(device, size);
  const char* problem = nullptr;
  if (p == nullptr) {
    problem = "returned NULL without reporting an error";
  } else if (reinterpret_cast<uintptr_t>(p) % kAlignment != 0) {
    problem = "returned a pointer that is not 16-byte aligned";
  } else {
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (pool.live.count(p) || pool.cached.count(p)) problem = "returned memory that is still in use";
    // A block whose free reported failure but happened after all: it is the runtime's again.
    for (auto it = pool.unfreed.begin(); it != pool.unfreed.end(); ++it) {
      if (it->ptr == p) {
        if (it->reserved) account(device, 0, -static_cast<int64_t>(it->size));
        pool.unfreed.erase(it);
        break;
      }
    }
  }
  if (problem == nullptr) return p;
  std::string freed;
  if (p != nullptr && reinterpret_cast<uintptr_t>(p) % kAlignment != 0) {
    std::string error = release(backend, device, pool, {p, size, false});
    freed = error.empty() ? " (given back with runtime free)"
                          : " (giving it back failed too: " + error + "; empty_cache() retries)";
  }
  TORCH_CHECK(false, "deeplink backend '", slot.name, "': runtime malloc of ", size, " bytes on device ", device, " ",
              problem, " (", hex(p), ")", freed, "; the allocation is refused. This is a bug in the backend's runtime.");
}

}  // namespace

c10::Allocator* device_allocator() { return &g_allocator; }

c10::DataPtr allocate_on(int backend, int device, size_t nbytes) {
  c10::Device dev(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device));
  if (nbytes == 0) return c10::DataPtr(nullptr, dev);
  stats_of(device);  // validates the index before anything is allocated
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
      pool.cached.erase(p);
      pool.live.insert(p);
    }
  }
  if (p) {
    stats_of(device).cache_hits.fetch_add(1, std::memory_order_relaxed);
    account(device, size, 0);
  } else {
    try {
      p = checked_malloc(slot, backend, device, size, pool);
    } catch (const c10::OutOfMemoryError&) {
      stats_of(device).alloc_retries.fetch_add(1, std::memory_order_relaxed);
      try {
        empty_cache();  // give cached blocks back to the runtime, then retry once
      } catch (const c10::Error&) {
        // a failing free is reported by an explicit empty_cache(); here only the retry matters
      }
      try {
        p = checked_malloc(slot, backend, device, size, pool);
      } catch (const c10::OutOfMemoryError&) {
        stats_of(device).ooms.fetch_add(1, std::memory_order_relaxed);
        throw;
      }
    }
    {
      std::lock_guard<std::mutex> lock(pool.mutex);
      pool.live.insert(p);
    }
    account(device, size, size);
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
  stats_of(device).adopted.fetch_add(1, std::memory_order_relaxed);
  account(device, a->nbytes, 0);
  return c10::DataPtr(p, a, &free_adopted, c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
}

const OwnerTag* owner_of(const c10::DataPtr& ptr) {
  auto del = ptr.get_deleter();
  if (del == &free_block || del == &free_adopted) return static_cast<const OwnerTag*>(ptr.get_context());
  return nullptr;
}

c10::CachingDeviceAllocator::DeviceStats device_stats(int device) {
  const AtomicStats& a = stats_of(device);
  c10::CachingDeviceAllocator::DeviceStats s;
  constexpr size_t all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  s.allocated_bytes[all] = a.allocated_bytes.load();
  s.active_bytes[all] = s.allocated_bytes[all];  // no block splitting: every live block is active
  s.requested_bytes[all] = s.allocated_bytes[all];
  s.reserved_bytes[all] = a.reserved_bytes.load();
  s.allocation[all] = a.allocations.load();
  s.active[all] = s.allocation[all];
  s.segment[all] = a.segments.load();
  s.num_device_alloc = s.segment[all].allocated;
  s.num_device_free = s.segment[all].freed;
  s.num_ooms = a.ooms.load(std::memory_order_relaxed);
  s.num_alloc_retries = a.alloc_retries.load(std::memory_order_relaxed);
  return s;
}

MemoryCounts memory_counts(int device) {
  const AtomicStats& a = stats_of(device);
  return {a.cache_hits.load(std::memory_order_relaxed), a.adopted.load(std::memory_order_relaxed)};
}

void reset_peak_stats(int device) {
  AtomicStats& s = stats_of(device);
  for (AtomicStat* st : {&s.allocated_bytes, &s.reserved_bytes, &s.allocations, &s.segments}) st->reset_peak();
}

void reset_accumulated_stats(int device) {
  AtomicStats& s = stats_of(device);
  for (AtomicStat* st : {&s.allocated_bytes, &s.reserved_bytes, &s.allocations, &s.segments}) st->reset_accumulated();
  s.cache_hits = 0;
  s.adopted = 0;
  s.ooms = 0;
  s.alloc_retries = 0;
}

void empty_cache() {
  std::vector<std::pair<std::pair<int, int>, Pool*>> pools;
  {
    std::lock_guard<std::mutex> lock(g_pools_mutex);
    for (auto& [key, pool] : g_pools) pools.emplace_back(key, &pool);
  }
  std::string first_error, backend_name;
  size_t failed = 0;
  for (auto& [key, pool] : pools) {
    // Take the blocks out first (each leaves the cache before its free is tried, so a failure
    // part-way never leaves a freed block cached), then free them without holding the lock.
    std::vector<Unfreed> blocks;
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      for (auto& [size, ptrs] : pool->free_blocks)
        for (void* p : ptrs) blocks.push_back({p, size, true});
      pool->free_blocks.clear();
      pool->cached.clear();
      blocks.insert(blocks.end(), pool->unfreed.begin(), pool->unfreed.end());
      pool->unfreed.clear();
    }
    for (const Unfreed& block : blocks) {
      std::string error = release(key.first, key.second, *pool, block);
      if (!error.empty() && failed++ == 0) {
        first_error = error;
        backend_name = backend_slot(key.first).name;
      }
    }
  }
  TORCH_CHECK(failed == 0, "deeplink backend '", backend_name, "': runtime free failed for ", failed,
              " cached block(s) in empty_cache() (first error: ", first_error, "). They stay reserved and are "
              "retried by the next torch.deeplink.empty_cache().");
}

}  // namespace deeplink

// Page-locked host memory. A host block is mapped page-aligned and mlock()ed, so the OS keeps it
// resident, which is what "pinned" means for a device that copies from host memory by DMA. Blocks
// are cached by size for reuse (a DataLoader pins a batch of the same size every step). When the
// locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`) refuses the lock, the block stays pageable:
// deeplink warns once and counts it in host_memory_stats()["locked_bytes"].
#include "pinned_memory.h"

#include "runtime.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/Exception.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace deeplink {
namespace {

struct Block {
  void* ptr = nullptr;
  size_t size = 0;
  bool locked = false;
};

std::mutex g_mutex;
std::map<uintptr_t, Block> g_live;                 // by address: is_pinned_ptr finds interior pointers
std::map<size_t, std::vector<Block>> g_cached;    // by size
HostMemoryStats g_stats;                           // guarded by g_mutex
std::atomic<bool> g_warned{false};

size_t page_round(size_t n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

Block map_block(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "deeplink: could not map ", size, " bytes of pinned host memory: ",
                     std::strerror(errno));
  }
  Block b{p, size, mlock(p, size) == 0};
  if (!b.locked && !g_warned.exchange(true)) {
    rlimit lim{};
    getrlimit(RLIMIT_MEMLOCK, &lim);
    TORCH_WARN("deeplink: pin_memory could not page-lock ", size, " bytes (", std::strerror(errno),
               "; RLIMIT_MEMLOCK is ", lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                                      : std::to_string(lim.rlim_cur) + " bytes",
               "). Such buffers stay pageable; raise the limit (`ulimit -l`) to lock them. "
               "torch.deeplink.host_memory_stats()['locked_bytes'] shows how much is locked.");
  }
  ++g_stats.host_allocs;
  g_stats.reserved += static_cast<int64_t>(size);
  if (b.locked) g_stats.locked += static_cast<int64_t>(size);
  return b;
}

void unmap_block(const Block& b) {
  if (b.locked) munlock(b.ptr, b.size);
  munmap(b.ptr, b.size);
  ++g_stats.host_frees;
  g_stats.reserved -= static_cast<int64_t>(b.size);
  if (b.locked) g_stats.locked -= static_cast<int64_t>(b.size);
}

void release(void* ptr) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_live.find(reinterpret_cast<uintptr_t>(ptr));
  TORCH_INTERNAL_ASSERT(it != g_live.end(), "deeplink: freeing pinned memory it did not allocate");
  g_stats.allocated -= static_cast<int64_t>(it->second.size);
  g_cached[it->second.size].push_back(it->second);
  g_live.erase(it);
}

class PinnedHostAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t nbytes) override {
    if (nbytes == 0) return c10::DataPtr(nullptr, c10::Device(c10::DeviceType::CPU));
    const size_t size = page_round(nbytes);
    std::lock_guard<std::mutex> lock(g_mutex);
    Block b;
    auto it = g_cached.find(size);
    if (it != g_cached.end() && !it->second.empty()) {
      b = it->second.back();
      it->second.pop_back();
    } else {
      b = map_block(size);
    }
    g_live[reinterpret_cast<uintptr_t>(b.ptr)] = b;
    g_stats.allocated += static_cast<int64_t>(size);
    g_stats.allocated_peak = std::max(g_stats.allocated_peak, g_stats.allocated);
    return c10::DataPtr(b.ptr, b.ptr, &release, c10::Device(c10::DeviceType::CPU));
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
};

PinnedHostAllocator g_pinned;

bool cuda_backed() {
  if (active_backend_id() < 0) return false;
  const BackendSlot& slot = active_backend();
  return slot.passthrough && *slot.passthrough == c10::DeviceType::CUDA;
}

}  // namespace

c10::Allocator* pinned_memory_allocator() {
  // CUDA copies only run asynchronously from memory CUDA itself pinned.
  if (cuda_backed()) return at::detail::getCUDAHooks().getPinnedMemoryAllocator();
  return &g_pinned;
}

bool is_pinned_ptr(const void* p) {
  if (cuda_backed() && at::detail::getCUDAHooks().isPinnedPtr(p)) return true;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_live.upper_bound(reinterpret_cast<uintptr_t>(p));
  if (it == g_live.begin()) return false;
  --it;
  return reinterpret_cast<uintptr_t>(p) < it->first + it->second.size;
}

HostMemoryStats host_memory_stats() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_stats;
}

void empty_host_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [size, blocks] : g_cached)
    for (const Block& b : blocks) unmap_block(b);
  g_cached.clear();
}

}  // namespace deeplink

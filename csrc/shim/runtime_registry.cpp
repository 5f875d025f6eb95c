// Backend slots: which runtimes exist, and which one new allocations use.
#include "runtime.h"

#include <mutex>

namespace deeplink {
namespace {
std::mutex g_mutex;
// Fixed capacity so references handed out stay valid without locking on the hot path.
constexpr int kMaxBackends = 64;
BackendSlot g_slots[kMaxBackends];
std::atomic<int> g_count{0};
std::atomic<int> g_active{-1};
}  // namespace

int register_backend_slot(BackendSlot slot) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int id = g_count.load();
  TORCH_CHECK(id < kMaxBackends, "deeplink: too many backends registered (limit ", kMaxBackends, ")");
  g_slots[id] = std::move(slot);
  g_count.store(id + 1);
  return id;
}

const BackendSlot& backend_slot(int id) {
  TORCH_CHECK(id >= 0 && id < g_count.load(), "deeplink: no backend with id ", id);
  return g_slots[id];
}

int num_backend_slots() { return g_count.load(); }
int active_backend_id() { return g_active.load(std::memory_order_relaxed); }

void set_active_backend_id(int id) {
  backend_slot(id);  // validates
  g_active.store(id);
}

const BackendSlot& active_backend() {
  int id = active_backend_id();
  TORCH_CHECK(id >= 0, "deeplink: no backend is active. `import deeplink` selects one; "
              "see `deeplink info` for what is available on this machine.");
  return g_slots[id];
}

}  // namespace deeplink

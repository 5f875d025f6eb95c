// Default DeviceRuntime::mem_get_info: the device memory of a host-memory runtime is the
// machine's RAM, so free/total come from the OS; a runtime with real device memory overrides it.
#include "runtime.h"

#include <unistd.h>

namespace deeplink {

std::pair<size_t, size_t> DeviceRuntime::mem_get_info(int /*device*/) {
  TORCH_CHECK_NOT_IMPLEMENTED(host_accessible(), "deeplink: this backend's runtime does not report its memory size "
                              "(a Python runtime can define mem_get_info(device) -> (free_bytes, total_bytes))");
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return {static_cast<size_t>(sysconf(_SC_AVPHYS_PAGES)) * page, static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * page};
}

}  // namespace deeplink

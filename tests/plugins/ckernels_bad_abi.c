/* A kernel library that claims another C kernel ABI version: deeplink must refuse to load it. */
#include <stdint.h>

__attribute__((visibility("default"))) uint32_t dl_kernel_abi_version(void) { return 99; }
__attribute__((visibility("default"))) int t_noop(void* out) { (void)out; return 0; }

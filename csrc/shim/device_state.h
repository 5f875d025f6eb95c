// Per-thread current device and current stream, as torch.cuda has them.
#pragma once

#include <c10/core/Stream.h>

namespace deeplink {

int device_count();            // of the active backend (1 before any backend is active)
int max_device_count();        // the most devices any registered backend has (at least 1)
int current_device();
void set_current_device(int device);
void check_device_index(int device);

// Stream ids: 0 is the default stream of a device; others name runtime streams created through
// getStreamFromGlobalPool / getNewStream.
c10::Stream current_stream(int device);
void set_current_stream(const c10::Stream& stream);
c10::Stream new_stream(int device);
void* native_stream(const c10::Stream& stream);  // runtime handle (nullptr for the default stream)

}  // namespace deeplink

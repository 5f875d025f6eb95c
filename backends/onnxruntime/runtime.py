"""Device memory of the onnxruntime backend: deeplink's host-memory runtime (deeplink.runtime.HostRuntime).

Its 64-byte aligned blocks match what ORT's own CPU allocator gives its kernels (MLAS uses aligned
vector loads on the fast paths), so the CPU EP reads and writes deeplink memory in place through
IO binding. Copies are plain memmove: host and "device" are the same memory, which is also what
makes `deeplink.host_view` zero-copy here. IO-bound runs return only when ORT has written the
outputs, so the runtime's synchronous defaults for streams and events are exact.
"""
from deeplink.runtime import HostRuntime


def make_runtime() -> HostRuntime:
    return HostRuntime("onnxruntime")

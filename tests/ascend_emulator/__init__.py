"""Test-only emulator of the CANN C ABI the Ascend backend uses (ACL runtime + aclnn), on host
memory with ATen CPU reference math: build.py compiles it, probe.py reads its call log and object
counts, device_tensors.py runs kernels on raw emulated pointers, plugin.py registers the backend
on it. Nothing in the backend imports this package."""

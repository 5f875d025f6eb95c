"""The Ascend (Huawei NPU) backend: CANN's ACL runtime for memory, copies, streams and events,
aclnn operators (two-phase API) for kernels, all loaded at run time from a CANN install.

    backend.py     AscendBackend: find CANN, probe, hand out runtime and kernels
    runtime.py     deeplink runtime on ACL (aclrtMalloc, aclrtMemcpyAsync, streams, events)
    kernels.py     the kernel table: op-table entries whose aclnn operators this CANN exports
    collectives.py torch.distributed collectives over HCCL (libhccl.so, loaded at run time)
    ops/           table.py (aten overload -> aclnn operator, as data), spec.py (its vocabulary),
                   runner.py (binding, outputs, launch), composites.py and attention.py (kernels
                   made of several aclnn calls)
    _vendor/       the CANN binding: libraries.py (find and dlopen), acl.py (ctypes prototypes,
                   errors), aclnn.py (aclTensor & co., the two-phase launch), signatures.py
                   (aclnn prototypes as data), constants.py (enums and error codes), hccl.py
                   (libhccl.so: find, dlopen, prototypes, errors)

The test-only emulator of the same C ABI lives in tests/ascend_emulator/. docs/backends/ascend.md
says how to run on an Ascend machine and what was verified where.
"""
from .backend import AscendBackend

__all__ = ["AscendBackend"]

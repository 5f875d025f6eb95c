"""Code shared by the backends built on an ATen device (cpu, cuda): their memory is memory that
ATen's own kernels for that device can address, so most of their kernels are ATen's, run zero-copy.

    kernels.py       AtenKernels: every op ATen implements for the device, as Passthrough
    convolution.py   the convolution entry points ATen sends unknown devices to
    runtime.py       AtenRuntime: the ATen device's own allocator, copies, streams and events

Not a backend itself (folders whose name starts with "_" are shared code).
"""

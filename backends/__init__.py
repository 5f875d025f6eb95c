"""In-tree vendor backends, one folder each, every one the same shape, backends/<name>/:

    __init__.py      re-exports only
    backend.py       the Backend class (probe, runtime, kernels), registered through the
                     `deeplink.backends` entry-point group like any plugin
    runtime.py       the vendor runtime (memory, copies, streams, events)
    kernels.py       the kernel table
    collectives.py   when the backend has its own collective library (torch.distributed)
    compile.py       when the backend has a graph compiler (Backend.compile_graph, torch.compile)
    ops/             optional: kernel implementations, one op family per file
    _vendor/         optional: the vendor library binding

Folders whose name starts with "_" are shared code, not backends (backends/_aten/: the ATen-device
backends cpu and cuda). Each backend's page is docs/backends/<name>.md. Learn backends/cpu first:
it is the smallest real one.
"""

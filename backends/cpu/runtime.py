"""The CPU reference backend's runtime: host memory through the C function table compiled into the
shim (csrc/shim/host_runtime.cpp), the same path a C vendor runtime takes (deeplink.runtime.CRuntime)."""
from deeplink.runtime import CRuntime


def make_runtime() -> CRuntime:
    from deeplink import _C
    return CRuntime(_C._host_runtime_table(), host_accessible=True)

"""IO binding of raw host pointers to a session, with as little Python per call as possible.

onnxruntime's public `IOBinding.bind_input(name, "cpu", 0, type, shape, ptr)` builds an
`OrtDevice` on every call and checks WebGPU graph-capture state; for small ops that is a large
part of the per-op cost. When the native binding object is reachable (onnxruntime >= 1.16 has
`capi._pybind_state.SessionIOBinding`), we bind through it with one prebuilt CPU device; else we
use the public API. Both bind the same pointers: no copies either way.
"""
from __future__ import annotations

import numpy as np

try:
    from onnxruntime.capi import _pybind_state as _C
    from onnxruntime.capi.onnxruntime_inference_collection import OrtDevice as _OrtDevice
    _CPU = _OrtDevice.make("cpu", 0)._get_c_device()
    _FAST = hasattr(_C, "SessionIOBinding")
except Exception:          # another onnxruntime layout: the public API below still works
    _FAST = False


class Binder:
    """One run's bindings on one session."""

    __slots__ = ("_session", "_io", "_fast", "_keep")

    def __init__(self, session):
        self._session = session
        self._fast = _FAST
        if self._fast:
            try:
                self._io = _C.SessionIOBinding(session._sess)
            except Exception:
                self._fast = False
        if not self._fast:
            self._io = session.io_binding()
        self._keep = []

    def pointer(self, name: str, onnx_type: int, shape: tuple, ptr: int) -> None:
        if self._fast:
            self._io.bind_input(name, _CPU, onnx_type, list(shape), ptr)
        else:
            self._io.bind_input(name, "cpu", 0, onnx_type, shape, ptr)

    def array(self, name: str, arr: np.ndarray) -> None:
        """A small host array (scalars, sizes); kept alive until the run is over."""
        self._keep.append(arr)
        if self._fast:
            self._io.bind_input(name, arr)
        else:
            self._io.bind_cpu_input(name, arr)

    def output(self, name: str, onnx_type: int, shape: tuple, ptr: int) -> None:
        if self._fast:
            self._io.bind_output(name, _CPU, onnx_type, list(shape), ptr)
        else:
            self._io.bind_output(name, "cpu", 0, onnx_type, shape, ptr)

    def run(self) -> None:
        if self._fast:
            self._session._sess.run_with_iobinding(self._io, None)
        else:
            self._session.run_with_iobinding(self._io)

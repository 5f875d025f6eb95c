"""The Ascend (Huawei NPU) backend: CANN's ACL runtime for memory, copies, streams and events,
and aclnn operators (two-phase API) for kernels, loaded at run time from a CANN install.

    libraries.py   find and dlopen libascendcl.so / libnnopbase.so / libopapi.so, check symbols
    acl.py         ctypes prototypes, ACL error codes -> AscendError
    runtime.py     deeplink runtime on ACL (aclrtMalloc, aclrtMemcpyAsync, streams, events)
    aclnn.py       aclTensor/aclScalar/aclIntArray objects and the two-phase launch
    signatures.py  aclnn prototypes (parameter types, in order)
    op_table.py    aten overload -> aclnn operator and argument adaptation (data)
    op_runner.py   runs table entries: binding, output allocation, argument resolution
    composites.py, attention.py   kernels made of several aclnn calls
    emulator/      test-only: the same C ABI on host memory, ATen CPU reference math

See docs/ascend.md for running on an Ascend machine and for what was verified where.
"""
from __future__ import annotations

import os

from deeplink.backend import Availability, Backend

from .libraries import CannNotFound

ALLOW_HF32_VARIABLE = "DEEPLINK_ASCEND_ALLOW_HF32"
EMULATOR_MARK = "AscendEmulator"


class AscendBackend(Backend):
    name = "ascend"
    version = "1"
    description = "Huawei Ascend NPU through CANN: ACL runtime + aclnn operators (two-phase API), loaded at run time"
    priority = 50  # below CUDA, above the CPU reference
    verified_on = "emulator only (no Ascend hardware was reachable when this backend was written)"

    def __init__(self, home: str | None = None):
        """`home` overrides the CANN search (it is tried before $ASCEND_HOME_PATH); tests use it to
        point at the emulator without changing the process environment."""
        self._home = home
        self._state = None
        self._error = None

    # -- loading ---------------------------------------------------------------------------------
    def _load(self):
        if self._state is not None or self._error is not None:
            return
        from . import libraries
        from .acl import Acl, AscendError
        from .aclnn import AclnnApi
        from .runtime import AscendRuntime

        try:
            located = libraries.locate(extra_homes=[self._home] if self._home else ())
            libs = libraries.load(located)
            acl = Acl(libs)
            runtime = AscendRuntime(acl)
            devices = runtime.device_count()
        except CannNotFound as e:
            self._error = Availability.no(e.reason, **e.details)
            return
        except AscendError as e:
            self._error = Availability.no(f"CANN found ({located.paths['runtime']}) but the runtime failed: {e}",
                                          paths=located.paths)
            return
        if devices == 0:
            self._error = Availability.no(
                f"CANN found ({located.paths['runtime']}) but no Ascend device is visible: aclrtGetDeviceCount "
                "returned 0. Check the driver (`npu-smi info`) and ASCEND_RT_VISIBLE_DEVICES.", paths=located.paths)
            return
        self._state = _State(libs, acl, runtime, AclnnApi(acl), devices)

    def probe(self) -> Availability:
        self._load()
        if self._error is not None:
            return self._error
        s = self._state
        from .op_table import OPS
        needed = sorted({f for op in OPS for f in op.aclnn_functions})
        missing = s.api.missing_ops(needed)
        soc = s.acl.soc_name()
        emulated = EMULATOR_MARK in soc
        self.verified_on = ("emulator (host memory, ATen CPU reference math); no Ascend hardware"
                            if emulated else f"CANN runtime on {soc or 'an Ascend device'}")
        return Availability.yes(home=s.libs.home, libraries=dict(s.libs.paths), devices=s.devices, soc=soc,
                                emulator=emulated, aclnn_functions=len(needed) - len(missing),
                                missing_aclnn_functions=missing,
                                missing_optional_runtime_symbols=s.acl.missing_optional)

    def runtime(self):
        self._load()
        return self._state.runtime

    def kernels(self):
        self._load()
        from deeplink.kernels import PythonKernel

        from .op_runner import DeeplinkContext, Runner, resolve_overload
        from .op_table import OPS

        s = self._state
        runner = Runner(s.api, DeeplinkContext(s.runtime), allow_hf32=os.environ.get(ALLOW_HF32_VARIABLE) == "1")
        table = {}
        for op in OPS:
            try:
                resolve_overload(op.aten)
            except AttributeError:
                continue  # an overload this torch version does not have
            if any(not s.api.has(f) for f in op.aclnn_functions):
                continue  # this CANN lacks an operator the entry needs: the dispatcher falls back
            impl = ", ".join(op.aclnn_functions) or "composite"
            table[op.aten] = PythonKernel(runner.kernel(op), op.dtypes, impl)
        return table


class _State:
    def __init__(self, libs, acl, runtime, api, devices):
        self.libs, self.acl, self.runtime, self.api, self.devices = libs, acl, runtime, api, devices


__all__ = ["AscendBackend"]

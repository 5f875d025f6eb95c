"""The Ascend backend class: finds CANN, reports availability, and hands out the runtime and the
kernel table. The folder's parts are listed in __init__.py; docs/backends/ascend.md has the rest."""
from __future__ import annotations

from deeplink.backend import Availability, Backend

from ._vendor.libraries import CannNotFound

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
        from ._vendor import libraries
        from ._vendor.acl import Acl, AscendError
        from ._vendor.aclnn import AclnnApi
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
        from .ops.table import OPS
        needed = sorted({f for op in OPS for f in op.aclnn_functions})
        missing = s.api.missing_ops(needed)
        soc = s.acl.soc_name()
        emulated = EMULATOR_MARK in soc
        self.verified_on = ("emulator (host memory, ATen CPU reference math); no Ascend hardware"
                            if emulated else f"CANN runtime on {soc or 'an Ascend device'}")
        return Availability.yes(home=s.libs.home, libraries=dict(s.libs.paths),
                                operator_libraries=[lib._name for lib in s.libs.op_libraries], devices=s.devices, soc=soc,
                                emulator=emulated, aclnn_functions=len(needed) - len(missing),
                                missing_aclnn_functions=missing,
                                missing_optional_runtime_symbols=s.acl.missing_optional)

    def runtime(self):
        self._load()
        return self._state.runtime

    def kernels(self):
        self._load()
        from .kernels import ascend_kernels
        return ascend_kernels(self._state)

    def collectives(self):
        """HCCL (collectives.py), or None when this CANN has no usable libhccl.so: collectives
        then stage through host memory and the warning says why."""
        self._load()
        from ._vendor.hccl import HcclNotFound
        from .collectives import HcclCollectives
        try:
            return HcclCollectives(self._state)
        except HcclNotFound as e:
            import warnings
            warnings.warn(f"deeplink ascend: no HCCL ({e}); torch.distributed collectives of ascend tensors will "
                          f"be staged through host memory", stacklevel=2)
            return None


class _State:
    def __init__(self, libs, acl, runtime, api, devices):
        self.libs, self.acl, self.runtime, self.api, self.devices = libs, acl, runtime, api, devices


"""Backend discovery and selection.

Backends are found through the entry-point group `deeplink.backends` (the in-tree ones included)
and through `register_backend()` (tests, notebooks). A plugin that fails to import, to construct,
or that speaks another ABI version is recorded with its error and listed by `deeplink info`; the
others still load. A backend is probed the first time its availability is asked for (choosing the
default probes in priority order and stops at the first available one), so `import deeplink` never
loads the vendor libraries of backends it does not pick. Only a backend that is used gets its
runtime registered with the shim.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
from dataclasses import dataclass, field

from .backend import ABI_VERSION, Availability, Backend

ENTRY_POINT_GROUP = "deeplink.backends"


@dataclass
class BackendRecord:
    name: str
    source: str                      # "entry point <module:attr>" or "register_backend()"
    backend: Backend | None = None
    load_error: str = ""             # import / construction / ABI failure
    slot: int = -1                   # id in the shim once its runtime is registered
    _availability: Availability | None = None
    _kernels: object = None

    @property
    def availability(self) -> Availability:
        """The backend's probe() result, asked once, on first use."""
        if self._availability is None:
            self._availability = _probe(self.backend)
        return self._availability

    @property
    def available(self) -> bool:
        return self.backend is not None and self.availability.available

    @property
    def reason(self) -> str:
        if self.load_error:
            return self.load_error
        return self.availability.reason

    def kernels(self):
        if self._kernels is None:
            self._kernels = self.backend.kernels()
        return self._kernels


_records: dict[str, BackendRecord] = {}
_active: BackendRecord | None = None
_discovered = False
# Entry points that failed with a circular import (a plugin imported first, which imports deeplink,
# which loads the plugin mid-import): tried again on the next look-up.
_retry: dict = {}


def _probe(backend: Backend) -> Availability:
    try:
        result = backend.probe()
        if not isinstance(result, Availability):
            return Availability.no(f"probe() returned {type(result).__name__}, expected deeplink.backend.Availability")
        return result
    except Exception as e:  # a probe must not take the others down
        return Availability.no(f"probe() raised {type(e).__name__}: {e}")


def _admit(name: str, source: str, make) -> BackendRecord:
    rec = BackendRecord(name=name, source=source)
    try:
        obj = make()
        backend = obj() if isinstance(obj, type) else obj
        if not isinstance(backend, Backend):
            raise TypeError(f"{type(backend).__name__} is not a deeplink.backend.Backend")
        if backend.abi_version != ABI_VERSION:
            raise RuntimeError(f"written for deeplink plugin ABI {backend.abi_version}, this deeplink speaks "
                               f"{ABI_VERSION}; upgrade the plugin")
        if backend.name and backend.name != name:
            rec.name = backend.name
        rec.backend = backend
    except Exception as e:
        rec.load_error = f"failed to load: {type(e).__name__}: {e}"
        rec._availability = Availability.no(rec.load_error, traceback=traceback.format_exc(limit=3))
    _records[rec.name] = rec
    return rec


def discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _records:
            continue
        _load_entry_point(ep)
    if "cpu" not in _records:  # running from a source tree without `pip install -e .`
        for name, target in IN_TREE_BACKENDS.items():
            if name not in _records:
                _admit(name, f"source tree {target} (no entry point installed)", lambda t=target: _load_target(t))


# The in-tree backends, for a checkout used without `pip install` (e.g. `PYTHONPATH=.` on a GPU
# machine that has no package index): the same table pyproject.toml declares as entry points.
IN_TREE_BACKENDS = {"cpu": "deeplink.backends.cpu:CpuBackend", "cuda": "deeplink.backends.cuda:CudaBackend",
                    "ascend": "deeplink.backends.ascend:AscendBackend",
                    "onnxruntime": "deeplink.backends.onnxruntime:OnnxRuntimeBackend"}


def _load_target(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _load_entry_point(ep) -> None:
    rec = _admit(ep.name, f"entry point {ep.value}", ep.load)
    if rec.backend is None and "partially initialized module" in rec.load_error:
        _retry[ep.name] = ep
    else:
        _retry.pop(ep.name, None)


def _retry_circular() -> None:
    for ep in list(_retry.values()):
        _load_entry_point(ep)


def register_backend(backend: Backend) -> BackendRecord:
    """Add a backend object without an entry point (tests, notebooks). Replaces an unused one of
    the same name."""
    discover()
    old = _records.get(backend.name)
    if old is not None and old.slot >= 0:
        raise ValueError(f"a backend named {backend.name!r} is already in use in this process; pick another name")
    return _admit(backend.name, "register_backend()", lambda: backend)


def records() -> list[BackendRecord]:
    discover()
    _retry_circular()
    return sorted(_records.values(), key=lambda r: (-(r.backend.priority if r.backend else -999), r.name))


def get(name: str) -> BackendRecord:
    discover()
    if name in _retry:
        _retry_circular()
    if name not in _records:
        known = ", ".join(sorted(_records)) or "none"
        raise ValueError(f"deeplink: unknown backend {name!r}. Known backends: {known}. "
                         f"Install its plugin package, or see `deeplink info`.")
    return _records[name]


def default_name() -> str:
    env = os.environ.get("DEEPLINK_BACKEND")
    if env:
        return env
    for rec in records():
        if rec.available:
            return rec.name
    return "cpu"


def ensure_slot(rec: BackendRecord) -> int:
    """Register the backend's runtime with the shim (once)."""
    if rec.slot < 0:
        from . import _C
        runtime = rec.backend.runtime()
        rec.slot = _C._register_backend(rec.name, runtime, rec.backend.aten_device
                                        if _uses_passthrough(rec) else None)
        rec._runtime = runtime  # keep it alive: the shim holds raw pointers into C runtimes
    return rec.slot


def _uses_passthrough(rec: BackendRecord) -> bool:
    return rec.backend.aten_device is not None


def activate(name: str) -> BackendRecord:
    global _active
    rec = get(name)
    if not rec.available:
        raise RuntimeError(f"deeplink: backend {name!r} is not available on this machine: {rec.reason}")
    from . import _C
    from .dispatcher import ops_to_claim, sdp_choice
    _C._set_active_backend(ensure_slot(rec))
    _C._claim_ops(ops_to_claim(rec))
    _C._set_sdp_choice(sdp_choice(rec))
    _active = rec
    return rec


def active() -> BackendRecord:
    if _active is None:
        raise RuntimeError("deeplink: no backend active")
    return _active


def record_of_slot(slot: int) -> BackendRecord | None:
    for rec in _records.values():
        if rec.slot == slot:
            return rec
    return None

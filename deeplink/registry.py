"""Backend discovery and selection.

Backends are found through the entry-point group `deeplink.backends` (the in-tree ones included)
and through `register_backend()` (tests, notebooks). A backend is probed the first time its
availability is asked for (choosing the default probes in priority order and stops at the first
available one), so `import deeplink` never loads the vendor libraries of backends it does not
pick. Only a backend that is used gets its runtime registered with the shim.

Plugins are isolated (docs/reliability.md): anything a plugin raises -- any BaseException,
SystemExit and KeyboardInterrupt included -- from its import, construction, probe(), runtime()
or kernels() marks that plugin unavailable with the error, which `deeplink info` shows; it never
breaks `import deeplink` or another backend, and when the default backend fails to activate the
next available one is used. A plugin's probe() runs under a time budget (DEEPLINK_PROBE_TIMEOUT
seconds, default 10; 0 disables it). The names of the in-tree backends belong to them: a plugin
that claims one is refused with an error naming both packages.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import traceback
from dataclasses import dataclass

from .backend import ABI_VERSION, Availability, Backend

ENTRY_POINT_GROUP = "deeplink.backends"
PROBE_TIMEOUT_S = 10.0


class BackendFailed(RuntimeError):
    """A backend's own code raised while deeplink set it up; the backend is now unavailable."""


@dataclass
class BackendRecord:
    name: str
    source: str                      # "entry point <module:attr>" or "register_backend()"
    package: str = ""                # the installed distribution that declares the entry point
    backend: Backend | None = None
    load_error: str = ""             # import / construction / ABI / setup failure
    slot: int = -1                   # id in the shim once its runtime is registered
    priority: int = -999             # read once at load (sorting must not call plugin code)
    _availability: Availability | None = None
    _probe: "_Probe | None" = None
    _kernels: object = None

    @property
    def availability(self) -> Availability:
        """The backend's probe() result, asked once, on first use (within the time budget)."""
        if self._availability is None:
            if self._probe is None:
                self._probe = _Probe(self)
            result = self._probe.result()
            if self._probe.finished:
                self._availability = result
            return result
        return self._availability

    @property
    def available(self) -> bool:
        return self.backend is not None and not self.load_error and self.availability.available

    @property
    def reason(self) -> str:
        if self.load_error:
            return self.load_error
        return self.availability.reason

    def kernels(self):
        if self._kernels is None:
            self._kernels = self.call("kernels()", self.backend.kernels)
        return self._kernels

    def attr(self, name: str, default=None):
        """An attribute of the backend object for listings (a plugin's property may raise)."""
        try:
            return getattr(self.backend, name, default)
        except BaseException:  # noqa: BLE001
            return default

    def call(self, what: str, fn, *args):
        """fn(*args), a call into the backend's own code: whatever it raises makes the backend
        unavailable (with that error) and is re-raised as BackendFailed."""
        try:
            return fn(*args)
        except BackendFailed:
            raise
        except BaseException as e:  # noqa: BLE001 - SystemExit/KeyboardInterrupt from a plugin too
            self.fail(f"{what} raised {type(e).__name__}: {e}", traceback.format_exc(limit=4))
            raise BackendFailed(f"deeplink: backend {self.name!r} ({self.source}) is unavailable: "
                                f"{self.load_error}") from (e if isinstance(e, Exception) else None)

    def fail(self, error: str, trace: str = "") -> None:
        self.load_error = error
        self._availability = Availability.no(error, traceback=trace) if trace else Availability.no(error)


class _Probe:
    """A plugin's probe() in a daemon thread, waited for at most DEEPLINK_PROBE_TIMEOUT seconds
    the first time; a probe still running after that reads as unavailable until it finishes. The
    in-tree backends' probes (deeplink's own, bounded code: library loads and device counts, which
    a loaded machine may slow down) run in the calling thread."""

    def __init__(self, rec: BackendRecord):
        self.rec, self.finished, self._result, self._waited = rec, False, None, False
        self.budget = float(os.environ.get("DEEPLINK_PROBE_TIMEOUT", PROBE_TIMEOUT_S))
        if self.budget > 0 and not _is_in_tree(rec):
            self._thread = threading.Thread(target=self._run, name=f"deeplink-probe-{rec.name}", daemon=True)
            self._thread.start()
        else:
            self._thread = None
            self._run()

    def _run(self) -> None:
        try:
            result = self.rec.backend.probe()
            if not isinstance(result, Availability):
                result = Availability.no(f"probe() returned {type(result).__name__}, expected "
                                         f"deeplink.backend.Availability")
        except BaseException as e:  # noqa: BLE001 - a probe must not take the others down
            result = Availability.no(f"probe() raised {type(e).__name__}: {e}", traceback=traceback.format_exc(limit=4))
        self._result = result
        self.finished = True

    def result(self) -> Availability:
        if self._thread is not None and not self.finished:
            self._thread.join(0 if self._waited else self.budget)
            self._waited = True
        if self.finished:
            return self._result
        return Availability.no(f"probe() did not finish within {self.budget:g} s (DEEPLINK_PROBE_TIMEOUT sets the "
                               f"budget); treated as unavailable until it does")


_records: dict[str, BackendRecord] = {}
_active: BackendRecord | None = None
_activation_lock = threading.RLock()  # use() from several threads: one activation at a time
_discovered = False
# Entry points that failed with a circular import (a plugin imported first, which imports deeplink,
# which loads the plugin mid-import): tried again on the next look-up.
_retry: dict = {}


def _admit(name: str, source: str, make, package: str = "") -> BackendRecord:
    rec = BackendRecord(name=name, source=source, package=package)
    try:
        obj = make()
        backend = obj() if isinstance(obj, type) else obj
        if not isinstance(backend, Backend):
            raise TypeError(f"{type(backend).__name__} is not a deeplink.backend.Backend")
        if backend.abi_version != ABI_VERSION:
            raise RuntimeError(f"written for deeplink plugin ABI {backend.abi_version}, this deeplink speaks "
                               f"{ABI_VERSION}; upgrade the plugin")
        if backend.name and backend.name != name:
            rec.name = str(backend.name)
        rec.priority = int(backend.priority)
        rec.backend = backend
    except BaseException as e:  # noqa: BLE001 - SystemExit/KeyboardInterrupt at a plugin's import too
        rec.fail(f"failed to load: {type(e).__name__}: {e}", traceback.format_exc(limit=4))
    clash = _name_clash(rec, package)
    if clash:
        rec.fail(clash)
        rec.name = f"{package or source}:{rec.name}"  # listed under its own key; the name stays its owner's
    _records[rec.name] = rec
    return rec


def _is_in_tree(rec: BackendRecord) -> bool:
    module = type(rec.backend).__module__ if rec.backend is not None else rec.source
    return module.startswith("deeplink.backends.") or "deeplink.backends." in rec.source


def _name_clash(rec: BackendRecord, package: str) -> str:
    """Why `rec` may not use its name, or "": in-tree names belong to the in-tree backends, and a
    name taken by one installed plugin package is not given to another."""
    owner = _records.get(rec.name)
    who = f"plugin package {package!r}" if package else rec.source
    if rec.name in IN_TREE_BACKENDS and not _is_in_tree(rec):
        return (f"{who} registers a backend named {rec.name!r}, but that name belongs to deeplink's in-tree "
                f"backend ({IN_TREE_BACKENDS[rec.name]}, package 'deeplink'); rename the plugin's backend "
                f"(Backend.name and its entry-point name)")
    if owner is not None and owner.slot < 0 and owner.source.startswith("entry point") and \
            rec.source.startswith("entry point") and not _is_in_tree(rec):
        return (f"{who} registers a backend named {rec.name!r}, which "
                f"{f'plugin package {owner.package!r}' if owner.package else owner.source} already registered; "
                f"uninstall one of the two packages or rename one backend")
    return ""


def discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _records and ep.value in _records[ep.name].source:
            continue  # the same entry point seen twice (e.g. an editable and a regular install)
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
    package = getattr(getattr(ep, "dist", None), "name", "") or ""
    rec = _admit(ep.name, f"entry point {ep.value}", ep.load, package)
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
    if backend.name in IN_TREE_BACKENDS and not type(backend).__module__.startswith("deeplink.backends."):
        raise ValueError(f"deeplink: the backend name {backend.name!r} belongs to deeplink's in-tree backend "
                         f"({IN_TREE_BACKENDS[backend.name]}); register {type(backend).__module__}."
                         f"{type(backend).__name__} under another name")
    old = _records.get(backend.name)
    if old is not None and old.slot >= 0:
        raise ValueError(f"a backend named {backend.name!r} is already in use in this process; pick another name")
    return _admit(backend.name, "register_backend()", lambda: backend)


def records() -> list[BackendRecord]:
    discover()
    _retry_circular()
    return sorted(_records.values(), key=lambda r: (-r.priority, r.name))


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
    """The backend activate_default() tries first."""
    env = os.environ.get("DEEPLINK_BACKEND")
    if env:
        return env
    for rec in records():
        if rec.available:
            return rec.name
    return "cpu"


def activate_default() -> BackendRecord:
    """Activate $DEEPLINK_BACKEND, else the available backend of highest priority whose setup
    succeeds (one whose runtime() or kernels() raises is marked unavailable and skipped)."""
    env = os.environ.get("DEEPLINK_BACKEND")
    if env:
        return activate(env)
    for rec in records():
        if rec.available:
            try:
                return activate(rec.name)
            except BackendFailed:
                continue
    return activate("cpu")


def ensure_slot(rec: BackendRecord) -> int:
    """Register the backend's runtime with the shim (once)."""
    if rec.slot < 0:
        from . import _C
        runtime = rec.call("runtime()", rec.backend.runtime)
        rec.slot = rec.call("its runtime", _C._register_backend, rec.name, runtime,
                            rec.backend.aten_device if _uses_passthrough(rec) else None)
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
    from .dispatcher import claim, sdp_choice
    with _activation_lock:
        # The backend's own code (kernels(), runtime()) runs before anything changes.
        rec.call("kernels()", claim, rec)
        choice = rec.call("kernels()", sdp_choice, rec)
        slot = ensure_slot(rec)
        _active = rec
        _C._set_active_backend(slot)  # new routes from here on (resolved against `_active`)
        _C._set_sdp_choice(*choice)
    from .compile.backend import forget_other_backends
    forget_other_backends(rec.name)  # graphs compiled for the previous backend recompile
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

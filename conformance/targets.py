"""Where a case runs: a deeplink backend (the product) or plain ATen CPU (the reference mode).

* `DeeplinkTarget(backend)`: tensors on torch device "deeplink", `deeplink.use(backend)`, CPU
  fallback allowed but counted (`deeplink.op_stats()`), so a case that fell back is reported
  `fallback`, never `pass`.
* `ReferenceTarget(overrides)`: tensors on torch device "cpu", no deeplink import at all. It exists
  so the whole pipeline (golden replay, tolerances, workers, reports) runs and is tested without
  the device, and it shows how far ATen CPU itself is from CUDA. Planted-bug kernels can be
  layered on it with `overrides` (an OverrideMode); they count as "native" calls.

Both answer the same questions for the worker: the device string, per-case route counts, and how
to run a set of overloads on ATen CPU instead (for blame by substitution).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path

from .dispatch_modes import OverrideMode, SubstituteMode
from deeplink.opset.names import normalise

REFERENCE = "reference"


def load_plugin(spec: str):
    """Import a plugin given as `package.module`, `package.module:attr` or `path/to/file.py`.
    Backends register themselves on import (deeplink.register_backend); a module may also define
    `reference_overrides()` -> {aten overload: fn} for the reference target."""
    target, _, attr = spec.partition(":") if not spec.endswith(".py") else (spec, "", "")
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        name = f"deeplink_conformance_plugin_{path.stem}"
        if name in sys.modules:
            module = sys.modules[name]
        else:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None:
                raise ImportError(f"plugin {spec!r}: {path} is not a Python file")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    if attr:
        obj = getattr(module, attr)
        if callable(obj):
            obj()
    return module


class ReferenceTarget:
    name = REFERENCE
    device = "cpu"

    def __init__(self, overrides: dict | None = None):
        self.mode = OverrideMode(overrides) if overrides else None

    @property
    def can_substitute(self) -> bool:
        # Substituting ATen CPU for ATen CPU changes nothing; only planted overrides can be blamed.
        return self.mode is not None

    def run_context(self):
        return self.mode if self.mode is not None else contextlib.nullcontext()

    def reset_stats(self) -> None:
        if self.mode is not None:
            self.mode.calls.clear()

    def routes(self) -> dict[str, list[str]]:
        native = sorted(self.mode.calls) if self.mode is not None else []
        return {"native": native, "decomposed": [], "fallback": []}

    @contextlib.contextmanager
    def substitute(self, names):
        previous = set(self.mode.disabled)
        self.mode.disabled |= set(names)
        try:
            yield
        finally:
            self.mode.disabled = previous

    def describe(self) -> dict:
        return {"name": REFERENCE, "device": "cpu",
                "note": "reference mode: plain ATen CPU tensors, no deeplink device; route counts are "
                        "not available, every op counts as native",
                "overrides": sorted(self.mode.kernels) if self.mode else []}


class DeeplinkTarget:
    device = "deeplink"
    can_substitute = True

    def __init__(self, backend: str):
        import deeplink  # noqa: PLC0415  (the reference mode must not need the core)

        self.dl = deeplink
        self.name = backend
        deeplink.use(backend)
        # Fallbacks must run (so the values can still be checked) but be counted, not printed.
        deeplink.set_fallback_mode("silent")

    def run_context(self):
        return contextlib.nullcontext()

    def reset_stats(self) -> None:
        self.dl.reset_op_stats()

    def routes(self) -> dict:
        out = {"native": [], "decomposed": [], "fallback": []}
        dtypes = {}
        for raw, counts in self.dl.op_stats().items():
            name = normalise(raw)
            for route in out:
                if counts.get(route, 0):
                    out[route].append(name)
            if counts.get("fallback_dtypes"):
                dtypes[name] = counts["fallback_dtypes"]
        routes = {k: sorted(v) for k, v in out.items()}
        routes["fallback_dtypes"] = dtypes
        return routes

    def substitute(self, names):
        return SubstituteMode(names, self.device)

    def describe(self) -> dict:
        info = {"name": self.name, "device": "deeplink"}
        try:
            for entry in self.dl.list_backends():
                if entry.get("name") == self.name:
                    info.update({k: v for k, v in entry.items() if isinstance(v, (str, int, float, bool))})
        except Exception as e:  # noqa: BLE001  (description only)
            info["list_backends_error"] = f"{type(e).__name__}: {e}"
        return info


def make_target(backend: str, plugins: list[str]):
    modules = [load_plugin(p) for p in plugins]
    if backend == REFERENCE:
        overrides = {}
        for m in modules:
            if hasattr(m, "reference_overrides"):
                overrides.update(m.reference_overrides())
        return ReferenceTarget(overrides)
    return DeeplinkTarget(backend)

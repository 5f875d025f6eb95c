"""deeplink: one torch device ("deeplink"), pluggable vendor backends, measured against real CUDA.

    import torch, deeplink
    x = torch.randn(4, 4, device="deeplink")     # runs on the active backend
    deeplink.use("cpu")                           # or DEEPLINK_BACKEND=cpu
    deeplink.fallback_stats()                     # ops that ran on the CPU instead of the device
"""
from __future__ import annotations

from ._layout import map_source_tree

map_source_tree()  # deeplink.backends / .conformance / .csrc from a checkout used without pip install

import torch  # noqa: E402

from . import _build  # noqa: E402

if _build.cli_runs_without_shim():
    _C = None  # `deeplink doctor|build|--version` run where the shim is not built (or cannot be)
else:
    try:
        _C = _build.load()
    except _build.ShimBuildError as e:  # one message, not the build's traceback
        if _build.invoked_as_cli():
            raise SystemExit(f"deeplink: {e}") from None
        raise _build.ShimBuildError(str(e)) from None

from . import registry as _registry  # noqa: E402
from . import dispatcher as _dispatcher  # noqa: E402
from .backend import Availability, Backend  # noqa: E402,F401
from .dispatcher import argument_checks, fallback_mode, forced_fallback, route_of, set_argument_checks  # noqa: E402,F401
from .dispatcher import set_fallback_mode, set_force_fallback  # noqa: E402,F401
from .kernels import Passthrough, PythonKernel, python_kernel  # noqa: E402,F401
from .runtime import CRuntime, HostRuntime, Runtime  # noqa: E402,F401
from .dtypes import SCALAR_TYPES, short_name  # noqa: E402

__version__ = "0.1.0"
DEVICE = "deeplink"


def _register_device() -> None:
    torch.utils.rename_privateuse1_backend(DEVICE)
    from . import device_module
    torch._register_device_module(DEVICE, device_module)
    torch.utils.generate_methods_for_privateuse1_backend(for_tensor=True, for_module=True, for_storage=True)
    _C._set_route_resolver(_dispatcher.resolve)
    _C._set_check_cache(_dispatcher.CHECK_CACHE)
    from . import _exit, compile, process_sharing
    process_sharing.install()
    compile.install()
    _exit.install(_C)


def use(name: str) -> None:
    """Make backend `name` the active one: new deeplink tensors live in its memory and ops run on
    its kernels. Tensors made under another backend stay there; mixing them in one op raises."""
    _registry.activate(name)


def current_backend() -> str:
    return _registry.active().name


def list_backends() -> list[dict]:
    out = []
    for rec in _registry.records():
        out.append({
            "name": rec.name, "available": rec.available, "reason": rec.reason, "source": rec.source,
            "package": rec.package,
            "version": rec.attr("version"), "description": rec.attr("description", ""),
            "priority": rec.priority if rec.backend else None, "verified_on": rec.attr("verified_on"),
            "details": dict(rec.availability.details),
            "active": rec.slot >= 0 and _C._active_backend() == rec.slot,
        })
    return out


def register_backend(backend: Backend):
    """Add a backend object at run time (tests, notebooks); installed plugins use the
    `deeplink.backends` entry-point group instead."""
    return _registry.register_backend(backend)


def op_stats() -> dict:
    """{aten overload: {"native": n, "decomposed": n, "fallback": n, "fallback_dtypes": [...]}} for
    every op the dispatcher ran; fallback_dtypes lists the dtypes of the fallen-back calls (of
    their first tensor argument)."""
    return {op: {"native": n, "decomposed": d, "fallback": f, "fallback_dtypes": _dtypes_of_mask(mask)}
            for op, (n, d, f, mask) in _C._op_stats().items()}


def _dtypes_of_mask(mask: int) -> list[str]:
    return [short_name(d) for i, d in enumerate(SCALAR_TYPES) if mask >> i & 1]


def reset_op_stats() -> None:
    _C._reset_op_stats()
    collectives = _collective_stats_if_loaded()
    if collectives is not None:
        collectives.reset_fallbacks()


def fallback_stats() -> dict:
    """{aten overload: calls} of ops that ran on the CPU because the backend lacks them, and
    {"c10d::<collective>": calls} of collectives staged through host memory because the backend
    has no collectives of its own (docs/distributed.md)."""
    out = {op: f for op, (n, d, f, _) in _C._op_stats().items() if f}
    collectives = _collective_stats_if_loaded()
    if collectives is not None:
        out.update(collectives.fallback_calls())
    return out


def _collective_stats_if_loaded():
    """deeplink.distributed's counters, when a process uses it (not imported for this)."""
    import sys
    return sys.modules.get("deeplink.distributed.stats")


def host_view(t: torch.Tensor) -> torch.Tensor:
    """A CPU tensor sharing memory with deeplink tensor `t` (backends with host-accessible memory only)."""
    return _C._host_view(t)


def aten_view(t: torch.Tensor) -> torch.Tensor:
    """`t`'s memory as a tensor of the backend's ATen device (cuda for the cuda backend, cpu for the
    CPU reference), zero-copy: for Python kernels that call ATen on that device. Keep `t` alive
    while the view is used; the view does not own the memory."""
    return _C._aten_view(t)


def from_aten(t: torch.Tensor) -> torch.Tensor:
    """A deeplink tensor that takes over `t`'s memory (a tensor on the active backend's ATen
    device, e.g. an ATen CUDA kernel's output), zero-copy: the reverse of aten_view."""
    return _C._from_aten(t)


def aten_generator(generator: torch.Generator | None = None, device: int | None = None) -> torch.Generator:
    """The ATen generator behind a deeplink generator (default: the device's default one), for
    kernels that draw random numbers themselves: seeding the deeplink generator seeds it."""
    idx = torch.deeplink.current_device() if device is None else device
    return _C._inner_generator(generator, idx)


def stream_handle(stream: torch.Stream | None = None) -> int:
    """The backend runtime's handle (what its stream_create returned) for a deeplink stream
    (default: the current one); 0 for the default stream."""
    s = stream if stream is not None else torch.deeplink.current_stream()
    return _C._native_stream(s.device_index, s.stream_id)


def tensor_backend(t: torch.Tensor) -> str:
    """Name of the backend whose memory holds `t`."""
    rec = _registry.record_of_slot(_C._tensor_backend(t))
    return rec.name if rec else "?"


if _C is not None:
    _register_device()
    _registry.activate_default()

    from . import distributed  # noqa: E402  registers "deeplink" with torch.distributed (c10d)

    distributed.register()

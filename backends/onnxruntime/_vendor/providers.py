"""Which onnxruntime execution providers (EPs) the backend asks for.

Setting, in order of precedence:
  1. `set_providers([...])` (API; also `deeplink.backends.onnxruntime.set_providers`),
  2. env `DEEPLINK_ORT_PROVIDERS`, a comma list, e.g. "CUDAExecutionProvider,CPUExecutionProvider",
  3. the default, ["CPUExecutionProvider"].

onnxruntime silently drops a requested EP that its build does not contain and runs on the CPU EP.
We never trust the request: every session records `sess.get_providers()[0]`, the EP that actually
took the graph, and `probe()` / `deeplink info` report it.
"""
from __future__ import annotations

import os

ENV_VAR = "DEEPLINK_ORT_PROVIDERS"
DEFAULT = ("CPUExecutionProvider",)

_override: tuple | None = None
_listeners: list = []


def _parse(text: str) -> tuple:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    return names or DEFAULT


def requested() -> tuple:
    """The provider list sessions are created with (names, or (name, options) pairs)."""
    if _override is not None:
        return _override
    return _parse(os.environ.get(ENV_VAR, ""))


def set_providers(providers) -> None:
    """Choose the EP list for sessions created from now on; None goes back to the env/default.
    Already-built sessions are dropped (listeners clear the graph cache) so no graph keeps
    running on the previous EP."""
    global _override
    if isinstance(providers, str):
        providers = _parse(providers)
    _override = tuple(providers) if providers is not None else None
    for fn in list(_listeners):
        fn()


def on_change(fn) -> None:
    _listeners.append(fn)


def provider_name(p) -> str:
    return p if isinstance(p, str) else p[0]


def missing(available: list[str]) -> list[str]:
    """Requested EPs that this onnxruntime build does not have (ORT would skip them silently)."""
    return [provider_name(p) for p in requested() if provider_name(p) not in available]

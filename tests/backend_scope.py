"""A test aid: run a block on one deeplink backend with one fallback mode, op statistics zeroed,
and restore the previous backend and mode afterwards (so tests in one process do not leak their
choice into the next)."""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def on_backend(name: str, fallback: str = "error"):
    import deeplink
    previous, mode = deeplink.current_backend(), deeplink.fallback_mode()
    deeplink.use(name)
    deeplink.set_fallback_mode(fallback)
    deeplink.reset_op_stats()
    try:
        yield
    finally:
        deeplink.set_fallback_mode(mode)
        deeplink.use(previous)

"""Registers the Ascend backend on the emulator in the current process, for tools that take a
plugin hook, e.g. the conformance suite (each worker process imports it):

    PYTHONPATH=tests deeplink conformance run --backend ascend \\
        --plugin ascend_emulator.plugin:register --out report-dir

Builds the emulator on first use (cached), then registers AscendBackend with its install root.
"""
from __future__ import annotations


def register():
    import deeplink
    from deeplink.backends.ascend import AscendBackend

    from .build import build

    rec = deeplink.register_backend(AscendBackend(home=str(build())))
    if not rec.available:
        raise RuntimeError(f"the emulated Ascend backend is unavailable: {rec.reason}")
    return rec

"""A reference-mode plugin whose `abs` never returns (tests the per-case timeout)."""
import time


def _hang(*args, **kwargs):
    time.sleep(3600)


def reference_overrides():
    return {"abs": _hang}

"""The debugging kit for a new chip (docs/debugging.md): which op diverges (Autocompare), save op
calls as conformance cases (Capture), time per op and route (OpTimes). `deeplink run --autocompare
/ --capture / --op-times` wraps a program in them; DEEPLINK_FORCE_FALLBACK / deeplink.set_force_fallback
send chosen ops to the CPU fallback."""
from .autocompare import Autocompare, render_summary
from .capture import Capture
from .op_times import OpTimes

__all__ = ["Autocompare", "Capture", "OpTimes", "render_summary"]

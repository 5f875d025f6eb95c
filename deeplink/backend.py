"""The vendor backend contract. A backend is a class registered under the entry-point group
`deeplink.backends`; deeplink instantiates it with no arguments and asks it these things:

    probe()        -> Availability   can it run on this machine, and exactly why not
    runtime()      -> Runtime | CRuntime   memory, copies, streams, events (deeplink/runtime.py)
    kernels()      -> Mapping[str, Kernel] aten overload name -> Passthrough | PythonKernel
    collectives()  -> Collectives | None   its collective library, for torch.distributed
                                           (deeplink/distributed/communicator.py)

`probe()` must be cheap and must not raise: missing libraries and variables are reported in the
`reason`. `runtime()`, `kernels()` and `collectives()` are only called on an available backend.
See docs/plugins.md for a worked example, and backends/cpu for the smallest real one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

ABI_VERSION = 1  # bump when the contract below changes incompatibly


@dataclass
class Availability:
    available: bool
    reason: str = ""              # why not, in words a user can act on; "" when available
    details: dict = field(default_factory=dict)   # library paths, versions, providers, ...

    @classmethod
    def yes(cls, **details) -> "Availability":
        return cls(True, "", details)

    @classmethod
    def no(cls, reason: str, **details) -> "Availability":
        return cls(False, reason, details)


class Backend:
    #: Short name users type: DEEPLINK_BACKEND=<name>, deeplink.use("<name>").
    name: str = ""
    version: str = "0"
    description: str = ""
    #: The deeplink plugin ABI this backend was written against (checked at load).
    abi_version: int = ABI_VERSION
    #: Preference when choosing the default backend (higher wins among available ones).
    priority: int = 0
    #: What the conformance reports say about how this backend was verified, e.g.
    #: "real hardware", "emulator (no Ascend hardware reachable)". Shown in `deeplink info`.
    verified_on: str = "this machine"
    #: The ATen device ("cpu" or "cuda") whose kernels can address this backend's memory directly,
    #: or None. Required for Passthrough kernels; also picks the type of the inner RNG generator.
    aten_device: str | None = None

    def probe(self) -> Availability:
        return Availability.yes()

    def runtime(self):
        raise NotImplementedError(f"backend {self.name!r} has no runtime()")

    def kernels(self) -> Mapping[str, object]:
        return {}

    def collectives(self):
        """What runs torch.distributed collectives on this backend's tensors: a
        deeplink.distributed.Collectives (host-memory backends return HostViewCollectives: gloo on
        zero-copy host views), or None when it has no collective library; its tensors are then
        staged through host memory, counted like op fallbacks (docs/distributed.md)."""
        return None

    def decompositions_allowed(self) -> bool:
        """Whether ops it lacks may run decomposed (torch._decomp) into ops it has."""
        return True

"""An in-process test backend: host memory (deeplink.runtime.HostRuntime, or the runtime a test
gives it), and whatever kernel table the test gives it. `ensure` registers one once per process
under a fixed name."""

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.runtime import HostRuntime


class TableBackend(Backend):
    priority = -1000  # never the default

    def __init__(self, name, table, runtime=None):
        self.name, self.table, self._runtime = name, table, runtime

    def probe(self):
        return Availability.yes(memory="host")

    def runtime(self):
        return self._runtime if self._runtime is not None else HostRuntime()

    def kernels(self):
        return self.table


def ensure(name, make_table):
    """The record of backend `name`, registering TableBackend(name, make_table()) the first time."""
    try:
        return deeplink._registry.get(name)
    except ValueError:
        return deeplink.register_backend(TableBackend(name, make_table()))

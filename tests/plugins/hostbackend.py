"""An in-process test backend for C kernels: host memory from libc (a Python runtime), and
whatever kernel table the test gives it. Registered once per process under a fixed name."""

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.runtime import HostRuntime



class TableBackend(Backend):
    priority = -1000  # never the default

    def __init__(self, name, table):
        self.name, self.table = name, table

    def probe(self):
        return Availability.yes(memory="libc malloc")

    def runtime(self):
        return HostRuntime()

    def kernels(self):
        return self.table


def ensure(name, make_table):
    """The record of backend `name`, registering TableBackend(name, make_table()) the first time."""
    try:
        return deeplink._registry.get(name)
    except ValueError:
        return deeplink.register_backend(TableBackend(name, make_table()))

"""Python view of the emulator's introspection API (the aclEmu* symbols, which real CANN does not
have): the call log, live object counts, hazards, error injection and options. Tests use it to
check the calling protocol the backend follows."""
from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Call:
    seq: int
    thread: int
    func: str
    detail: str


class Emulator:
    """Opens the same libraries the backend loaded (dlopen returns the loaded instances)."""

    def __init__(self, home):
        lib64 = Path(home) / "lib64"
        self.runtime = ctypes.CDLL(str(lib64 / "libascendcl.so"), mode=ctypes.RTLD_GLOBAL)
        self.nnopbase = ctypes.CDLL(str(lib64 / "libnnopbase.so"), mode=ctypes.RTLD_GLOBAL)
        self.opapi = ctypes.CDLL(str(lib64 / "libopapi.so"), mode=ctypes.RTLD_GLOBAL)
        for lib, name in ((self.runtime, "aclEmuRuntimeJson"), (self.runtime, "aclEmuCallLog"),
                          (self.nnopbase, "aclEmuObjectsJson"), (self.opapi, "aclEmuSignatures")):
            getattr(lib, name).restype = ctypes.c_char_p
        self.runtime.aclEmuInjectError.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.runtime.aclEmuSetOption.argtypes = [ctypes.c_char_p, ctypes.c_long]

    def state(self) -> dict:
        return json.loads(self.runtime.aclEmuRuntimeJson())

    def objects(self) -> dict:
        """{"live": {...}, "created": {...}} per kind: tensors, scalars, int_arrays, bool_arrays,
        float_arrays, tensor_lists, scalar_lists, executors."""
        return json.loads(self.nnopbase.aclEmuObjectsJson())

    def live(self) -> dict:
        return self.objects()["live"]

    def calls(self) -> list[Call]:
        out = []
        for line in self.runtime.aclEmuCallLog().decode().splitlines():
            seq, thread, func, detail = (line.split("\t", 3) + ["", "", "", ""])[:4]
            out.append(Call(int(seq), int(thread), func, detail))
        return out

    def clear_log(self) -> None:
        """Clears the call log, call counts and recorded hazards (not live objects)."""
        self.runtime.aclEmuClearLog()

    def inject(self, func: str, code: int, message: str = "", skip: int = 0) -> None:
        """Makes the (skip+1)-th next call of `func` fail with `code` and `message`."""
        self.runtime.aclEmuInjectError(func.encode(), code, message.encode(), skip)

    def clear_injections(self) -> None:
        self.runtime.aclEmuClearInjections()

    def set_option(self, name: str, value: int) -> None:
        """Options: eager (run queued work at once), strict (hazards are errors), log,
        memory_limit_mb, device_count."""
        self.runtime.aclEmuSetOption(name.encode(), int(value))

    def signatures(self) -> dict:
        """{aclnn operator: C parameter list as written in the emulator}."""
        out = {}
        for line in self.opapi.aclEmuSignatures().decode().splitlines():
            name, _, params = line.partition("|")
            out[name] = params
        return out

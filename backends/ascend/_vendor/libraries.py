"""Finding and loading CANN at run time.

Nothing is linked at build time: the three libraries the backend needs are located in a CANN
install and opened with dlopen (ctypes), and the symbols the backend calls are checked right
away, so a missing or too-old install is reported by name instead of failing mid-run.

    libascendcl.so   ACL runtime: devices, memory, copies, streams, events, error messages
    libnnopbase.so   aclTensor / aclScalar / aclIntArray / ... (the aclnn "meta" API)
    libopapi.so      the aclnn operators (aclnnXxxGetWorkspaceSize + aclnnXxx); newer CANN
                     releases split it into libopapi_math.so, libopapi_nn.so, libopapi_cv.so,
                     libopapi_transformer.so, ... (libopapi_*.so): every one found is opened and
                     an operator's symbols are looked up in whichever library has them

Where they are looked for, in order:
  1. $ASCEND_HOME_PATH, $ASCEND_TOOLKIT_HOME, $ASCEND_CANN_PACKAGE_PATH (set by CANN's set_env.sh)
  2. /usr/local/Ascend/ascend-toolkit/latest, /usr/local/Ascend/cann, ~/Ascend/ascend-toolkit/latest
  3. every directory on $LD_LIBRARY_PATH
and inside each install: lib64/, runtime/lib64/, <arch>-linux/lib64/.
Extra operator libraries (a custom op package) can be named in $DEEPLINK_ASCEND_OP_LIBS (colon-separated file names, searched in the same directories).
"""
from __future__ import annotations

import ctypes
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

HOME_VARIABLES = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_CANN_PACKAGE_PATH")
DEFAULT_HOMES = ("/usr/local/Ascend/ascend-toolkit/latest", "/usr/local/Ascend/cann",
                 "~/Ascend/ascend-toolkit/latest")
LIB_SUBDIRS = ("lib64", "runtime/lib64", f"{platform.machine()}-linux/lib64")
EXTRA_OP_LIBS_VARIABLE = "DEEPLINK_ASCEND_OP_LIBS"

# role -> file names tried in order (newer CANN releases also ship the runtime as libacl_rt.so)
LIBRARY_NAMES = {
    "runtime": ("libascendcl.so", "libacl_rt.so"),
    "nnopbase": ("libnnopbase.so",),
    "opapi": ("libopapi.so",),
}
# Newer CANN releases ship the operators split by domain instead of (or beside) libopapi.so.
SPLIT_OPAPI_PATTERN = "libopapi_*.so"

RUNTIME_SYMBOLS = (
    "aclInit", "aclrtSetDevice", "aclrtGetDeviceCount", "aclrtMalloc", "aclrtFree", "aclrtMemcpy",
    "aclrtMemcpyAsync", "aclrtCreateStream", "aclrtDestroyStream", "aclrtSynchronizeStream",
    "aclrtCreateEvent", "aclrtRecordEvent", "aclrtSynchronizeEvent", "aclrtEventElapsedTime",
    "aclrtDestroyEvent", "aclrtQueryEventStatus", "aclrtStreamWaitEvent", "aclrtSynchronizeDevice",
    "aclGetRecentErrMsg",
)
META_SYMBOLS = (
    "aclCreateTensor", "aclDestroyTensor", "aclCreateScalar", "aclDestroyScalar", "aclCreateIntArray",
    "aclDestroyIntArray", "aclCreateBoolArray", "aclDestroyBoolArray", "aclCreateTensorList",
    "aclDestroyTensorList",
)


class CannNotFound(RuntimeError):
    """CANN is missing or incomplete; the message says what was searched and what is missing."""

    def __init__(self, reason: str, **details):
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass
class Located:
    paths: dict                      # role -> absolute path ("opapi": libopapi.so or the first split library)
    extra_op_libs: list
    searched: list                   # directories looked at, in order
    op_libs: list = field(default_factory=list)   # every operator library: libopapi.so and/or libopapi_*.so


@dataclass
class CannLibraries:
    """The opened libraries. `symbol(name)` finds a function in any of them."""

    paths: dict
    runtime: ctypes.CDLL
    nnopbase: ctypes.CDLL
    op_libraries: list = field(default_factory=list)

    def symbol(self, name: str):
        for lib in (self.runtime, self.nnopbase, *self.op_libraries):
            try:
                return getattr(lib, name)
            except AttributeError:
                continue
        return None

    def op_symbol(self, name: str):
        for lib in self.op_libraries:
            try:
                return getattr(lib, name)
            except AttributeError:
                continue
        return None

    @property
    def home(self) -> str:
        return str(Path(self.paths["runtime"]).parent.parent)


def _homes(extra_homes=()):
    seen = [("explicit", Path(h).expanduser()) for h in extra_homes]
    for var in HOME_VARIABLES:
        value = os.environ.get(var)
        if value:
            seen.append((f"${var}", Path(value).expanduser()))
    for d in DEFAULT_HOMES:
        seen.append(("default", Path(d).expanduser()))
    return seen


def search_directories(extra_homes=()) -> list:
    dirs = []
    for _, home in _homes(extra_homes):
        for sub in LIB_SUBDIRS:
            dirs.append(home / sub)
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        if entry:
            dirs.append(Path(entry))
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def locate(extra_homes=()) -> Located:
    """Finds the CANN libraries or raises CannNotFound saying what was searched. `extra_homes`
    are install roots tried before the environment variables."""
    dirs = search_directories(extra_homes)
    existing = [d for d in dirs if d.is_dir()]
    paths = {}
    for role, names in LIBRARY_NAMES.items():
        for d in existing:
            hit = next((d / n for n in names if (d / n).exists()), None)
            if hit:
                paths[role] = str(hit)
                break
    op_libs = _operator_libraries(existing)
    if op_libs and "opapi" not in paths:
        paths["opapi"] = op_libs[0]
    missing = [LIBRARY_NAMES[r][0] for r in LIBRARY_NAMES if r not in paths]
    if missing:
        set_vars = [v for v in HOME_VARIABLES if os.environ.get(v)]
        if not existing:
            where = ("none of " + ", ".join(f"${v}" for v in HOME_VARIABLES) + " is set and no CANN install "
                     "exists at " + ", ".join(DEFAULT_HOMES))
        else:
            where = "searched " + ", ".join(str(d) for d in existing)
        if "opapi" not in paths:
            missing = [m if m != "libopapi.so" else f"libopapi.so (or the split {SPLIT_OPAPI_PATTERN})" for m in missing]
        raise CannNotFound(
            f"CANN not found: {', '.join(missing)} missing ({where}). Install the CANN toolkit and run "
            "`source /usr/local/Ascend/ascend-toolkit/set_env.sh` (it sets ASCEND_HOME_PATH and "
            "LD_LIBRARY_PATH), or point ASCEND_HOME_PATH at the install.",
            searched=[str(d) for d in dirs], found=paths, home_variables=set_vars)
    extras = []
    for name in filter(None, os.environ.get(EXTRA_OP_LIBS_VARIABLE, "").split(":")):
        hit = next((d / name for d in existing if (d / name).exists()), None)
        if hit is None:
            raise CannNotFound(f"${EXTRA_OP_LIBS_VARIABLE} names {name}, which is in none of "
                               + ", ".join(str(d) for d in existing))
        extras.append(str(hit))
    return Located(paths, extras, [str(d) for d in dirs], op_libs)


def _operator_libraries(existing) -> list:
    """The operator libraries of the first directory that has any: libopapi.so and/or the split
    libopapi_*.so of newer releases (all of them: an operator may live in any)."""
    for d in existing:
        found = [d / LIBRARY_NAMES["opapi"][0]] if (d / LIBRARY_NAMES["opapi"][0]).exists() else []
        found += sorted(d.glob(SPLIT_OPAPI_PATTERN))
        if found:
            return [str(p) for p in found]
    return []


def _open(path: str) -> ctypes.CDLL:
    try:
        # RTLD_GLOBAL: the aclnn libraries resolve each other's symbols, as when linked normally.
        return ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    except OSError as e:
        raise CannNotFound(
            f"found {path} but could not load it: {e}. Its dependencies are probably not on "
            "LD_LIBRARY_PATH: run `source /usr/local/Ascend/ascend-toolkit/set_env.sh`.", path=path) from e


def _missing(lib: ctypes.CDLL, names) -> list:
    return [n for n in names if not hasattr(lib, n)]


def load(located: Located | None = None) -> CannLibraries:
    """Opens the libraries and checks the runtime and meta symbols the backend needs."""
    located = located or locate()
    runtime = _open(located.paths["runtime"])
    nnopbase = _open(located.paths["nnopbase"])
    ops = [_open(p) for p in (located.op_libs or [located.paths["opapi"]])] + [_open(p) for p in located.extra_op_libs]
    libs = CannLibraries(located.paths, runtime, nnopbase, ops)
    missing_rt = _missing(runtime, RUNTIME_SYMBOLS)
    missing_meta = [n for n in META_SYMBOLS if libs.symbol(n) is None]
    if missing_rt or missing_meta:
        parts = []
        if missing_rt:
            parts.append(f"{located.paths['runtime']} lacks {', '.join(missing_rt)}")
        if missing_meta:
            parts.append(f"{located.paths['nnopbase']} lacks {', '.join(missing_meta)}")
        raise CannNotFound("CANN install is incomplete or too old: " + "; ".join(parts)
                           + ". Install CANN 8.0 or newer (toolkit and kernels packages).",
                           missing_symbols=missing_rt + missing_meta, paths=located.paths)
    return libs

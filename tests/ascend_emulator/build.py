"""Builds the test-only Ascend emulator: four shared libraries laid out like a CANN install.

    <home>/lib64/libascendcl.so   ACL runtime (no torch dependency)
    <home>/lib64/libnnopbase.so   aclTensor & co. and the two-phase executor
    <home>/lib64/libopapi.so      aclnn operators, reference math on ATen CPU
    <home>/lib64/libhccl.so       HCCL collectives between processes over loopback TCP (hccl.cpp)

<home>/split/lib64/ holds the same emulator in the layout of newer CANN releases, which ship the
operators as several libraries instead of libopapi.so (same objects, linked differently):

    libopapi_math.so          elementwise and reduction operators (and the emulator's ATen glue)
    libopapi_nn.so            nn and shape operators
    libopapi_transformer.so   fused attention

Point ASCEND_HOME_PATH at <home> (or <home>/split) and the backend loads the emulator exactly as it loads CANN;
nothing in the backend links against it. The build runs g++ directly against the installed
torch's headers and libraries (no CANN headers exist here, the emulator declares the documented
ABI itself) and is cached by a hash of the sources, the torch version and the compiler, so only
the first run pays for it (about two minutes on two cores, most of it compiling against ATen).

    PYTHONPATH=tests python -m ascend_emulator.build        # prints the emulated ASCEND_HOME_PATH
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADERS = ["emu_api.h", "emu_aten.h"]
LIBRARIES = {
    # name: (sources, links against torch, other emulator libraries it needs)
    "libascendcl.so": (["acl_runtime.cpp"], False, []),
    "libnnopbase.so": (["nnopbase.cpp"], False, ["ascendcl"]),
    "libopapi.so": (["emu_aten.cpp", "ops_elementwise.cpp", "ops_shape.cpp", "ops_reduce.cpp",
                     "ops_nn.cpp", "ops_attention.cpp"], True, ["nnopbase", "ascendcl"]),
    "libhccl.so": (["hccl.cpp"], False, ["ascendcl"]),
}
# The split operator libraries of <home>/split/lib64: name -> (objects' sources, other libraries it needs).
SPLIT_OPAPI = {
    "libopapi_math.so": (["emu_aten.cpp", "ops_elementwise.cpp", "ops_reduce.cpp"], ["nnopbase", "ascendcl"]),
    "libopapi_nn.so": (["ops_nn.cpp", "ops_shape.cpp"], ["opapi_math", "nnopbase", "ascendcl"]),
    "libopapi_transformer.so": (["ops_attention.cpp"], ["opapi_math", "nnopbase", "ascendcl"]),
}
CACHE_ENV = "DEEPLINK_ASCEND_EMULATOR_CACHE"


class EmulatorBuildError(RuntimeError):
    """The emulator did not compile; the message carries the compiler command and its output."""


def _compiler() -> str:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or "g++"


def _torch_flags():
    import torch
    from torch.utils import cpp_extension

    abi = int(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True))
    includes = [f"-I{p}" for p in cpp_extension.include_paths()]
    libdir = cpp_extension.library_paths()[0]
    return torch.__version__, [f"-D_GLIBCXX_USE_CXX11_ABI={abi}", *includes], \
        [f"-L{libdir}", f"-Wl,-rpath,{libdir}", "-lc10", "-ltorch_cpu"]


def _key(torch_version: str, cxx: str) -> str:
    h = hashlib.sha256()
    for name in sorted(HEADERS + [s for srcs, _, _ in LIBRARIES.values() for s in srcs] + ["build.py"]):
        h.update(name.encode())
        h.update((HERE / name).read_bytes())
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    h.update(torch_version.encode())
    h.update(version.encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "deeplink" / "ascend-emulator"


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EmulatorBuildError(f"emulator build failed:\n$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")


def _compile_all(out: Path, cxx: str, torch_cflags, torch_ldflags, jobs: int) -> None:
    lib64 = out / "lib64"
    lib64.mkdir(parents=True)
    common = ["-std=c++17", "-O2", "-fPIC", "-Wall", "-Wno-unused-parameter", f"-I{HERE}"]
    objects = {}
    tasks = []
    for lib, (sources, needs_torch, _) in LIBRARIES.items():
        flags = common + (torch_cflags if needs_torch else [])
        for src in sources:
            obj = out / (src + ".o")
            objects.setdefault(lib, []).append(str(obj))
            tasks.append([cxx, *flags, "-c", str(HERE / src), "-o", str(obj)])
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for f in [pool.submit(_run, cmd, out) for cmd in tasks]:
            f.result()
    for lib, (_, needs_torch, deps) in LIBRARIES.items():  # dict order: dependencies first
        cmd = [cxx, "-shared", "-o", str(lib64 / lib), *objects[lib], f"-Wl,-soname,{lib}",
               f"-L{lib64}", "-Wl,-rpath,$ORIGIN", *[f"-l{d}" for d in deps], "-lpthread"]
        if needs_torch:
            cmd += torch_ldflags
        _run(cmd, out)
    _link_split(out, cxx, torch_ldflags)
    for o in out.glob("*.o"):
        o.unlink()


def _link_split(out: Path, cxx: str, torch_ldflags) -> None:
    """<out>/split/lib64: the runtime, nnopbase and hccl as they are, the operators split up."""
    split = out / "split" / "lib64"
    split.mkdir(parents=True)
    for lib in ("libascendcl.so", "libnnopbase.so", "libhccl.so"):
        shutil.copy2(out / "lib64" / lib, split / lib)
    for lib, (sources, deps) in SPLIT_OPAPI.items():  # dict order: libopapi_math first
        objects = [str(out / (src + ".o")) for src in sources]
        _run([cxx, "-shared", "-o", str(split / lib), *objects, f"-Wl,-soname,{lib}", f"-L{split}",
              "-Wl,-rpath,$ORIGIN", *[f"-l{d}" for d in deps], "-lpthread", *torch_ldflags], out)


def split_home(home: Path) -> Path:
    """The emulated install in the split-operator-library layout of newer CANN releases."""
    return Path(home) / "split"


def build(verbose: bool = False) -> Path:
    """Returns the emulated ASCEND_HOME_PATH (a directory with lib64/), building it if needed."""
    cxx = _compiler()
    torch_version, torch_cflags, torch_ldflags = _torch_flags()
    key = _key(torch_version, cxx)
    root = cache_root()
    home = root / key
    if (home / "BUILD_INFO.json").exists():
        return home
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time across pytest-xdist workers
        if (home / "BUILD_INFO.json").exists():
            return home
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
        try:
            if verbose:
                print(f"building the Ascend emulator in {home} ...", file=sys.stderr)
            _compile_all(tmp, cxx, torch_cflags, torch_ldflags, jobs=max(1, os.cpu_count() or 1))
            info = {"seconds": round(time.perf_counter() - start, 1), "torch": torch_version,
                    "compiler": cxx, "key": key}
            (tmp / "BUILD_INFO.json").write_text(json.dumps(info, indent=1))
            os.rename(tmp, home)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return home


if __name__ == "__main__":
    print(build(verbose=True))

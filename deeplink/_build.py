"""Compile the C++ extensions (csrc/) against the installed torch, once, cache them, and load them.

Two extensions are built this way: the shim (csrc/shim, loaded by `import deeplink`) and the
torch.distributed backend (csrc/distributed, loaded on the first deeplink process group).

Cache layout, under shim_root() ($DEEPLINK_BUILD_DIR if set, else deeplink.cache_dirs.cache_root()),
for each extension (<ext> is its csrc folder: shim, distributed):

    <ext>-torch<V>-py<X.Y>-<key>/          a published build; never changed once published
        <module>.so, manifest.json         manifest: size and sha256 of the .so, digests of the inputs
    <ext>-...-<key>.lock                   flock held by the process that builds this key
    <ext>-...-<key>.tmp-<host>-<pid>-<r>/  a build in progress (renamed to the published name when done)
    <ext>-...-<key>.failed/, .failed.log   objects and output of the last failed build (the next
                                           build starts from its objects)

<key> hashes what the build depends on (torch version and install location, Python version,
compiler, flags, every source and header), so a matching folder is loaded without a compiler.

Guarantees (docs/reliability.md; tests/reliability/test_build_cache.py):
* publishing is atomic (build in a temporary folder, then rename), so no process ever sees half a
  build, and a build killed at any point leaves only a temporary folder (removed by the next build);
* a published build is validated before it is loaded (manifest, size, ELF header, sha256): a
  damaged .so is rebuilt, never mapped;
* one process builds, the others wait on an flock, which the kernel releases when the holder
  dies; waiting is bounded (DEEPLINK_BUILD_LOCK_TIMEOUT, default 1800 s), after which the waiter
  builds on its own (safe, publishing being atomic);
* no compiler, no ninja, no Python headers, or a cache that cannot be written: one ShimBuildError
  saying what is missing and what to do.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"
CFLAGS = ["-O2", "-fvisibility=hidden"]
LOCK_TIMEOUT_S = 1800


class ShimBuildError(ImportError):
    """The shim cannot be built or loaded here; the message says why and what to do."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Extension:
    module: str                 # name of the Python extension module
    folder: str                 # csrc/<folder>/*.cpp are its sources (and *.h its headers)
    headers: tuple = ()         # other files under csrc/ it is compiled from
    preimport: tuple = ()       # modules to import before loading it (whose pybind types it uses)

    @property
    def so_name(self) -> str:
        return self.module + ".so"


SHIM = Extension("deeplink_C", "shim", ("include/deeplink/runtime.h", "include/deeplink/dlpack_abi.h"))
DISTRIBUTED = Extension("deeplink_dist_C", "distributed", ("shim/allocator.h", "shim/python_gate.h"),
                        ("torch.distributed",))


def csrc_dir() -> Path:
    import deeplink.csrc  # csrc/, mapped as a package (deeplink/_layout.py)
    return Path(deeplink.csrc.__path__[0])


def shim_root() -> Path:
    explicit = os.environ.get("DEEPLINK_BUILD_DIR")  # the older name, compiled extensions only
    if explicit:
        return Path(explicit)
    from .cache_dirs import cache_root
    return cache_root()


# ---------------------------------------------------------------- what a build depends on
def _sources(root: Path, ext: Extension) -> list[Path]:
    return sorted((root / ext.folder).glob("*.cpp"))


def _headers(root: Path, ext: Extension) -> list[Path]:
    # Other headers in csrc/include are for plugin authors and do not change the extension.
    return sorted((root / ext.folder).glob("*.h")) + [root / h for h in ext.headers]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compiler() -> str:
    return os.environ.get("CXX", "c++")  # what torch's cpp_extension runs


def _identity(root: Path, ext: Extension) -> dict:
    """Everything the build depends on, as the manifest records it."""
    import torch
    return {"torch": torch.__version__, "torch_location": os.path.realpath(os.path.dirname(torch.__file__)),
            "python": sys.version, "compiler": compiler(), "cflags": CFLAGS,
            "sources": {p.name: _digest(p) for p in _sources(root, ext)},
            "headers": {str(p.relative_to(root)): _digest(p) for p in _headers(root, ext)}}


def _prefix(ext: Extension) -> str:
    import torch
    return f"{ext.folder}-torch{torch.__version__}-py{sys.version_info.major}.{sys.version_info.minor}-"


def build_dir(ext: Extension = SHIM) -> Path:
    """The published build folder of `ext` for this torch, Python and these sources."""
    key = hashlib.sha256(json.dumps(_identity(csrc_dir(), ext), sort_keys=True).encode()).hexdigest()[:16]
    return shim_root() / (_prefix(ext) + key)


# ---------------------------------------------------------------- validation and loading
def validate(folder: Path, ext: Extension = SHIM) -> str | None:
    """None when `folder` holds a complete, undamaged build of `ext`; else what is wrong with it."""
    so_name = ext.so_name
    if not folder.is_dir():
        return "not built yet"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        data = (folder / so_name).read_bytes()
    except FileNotFoundError as e:
        return f"incomplete ({Path(e.filename).name} is missing)"
    except (OSError, ValueError) as e:
        return f"unreadable ({e})"
    if len(data) != manifest.get("size"):
        return f"{so_name} is {len(data)} bytes, the build wrote {manifest.get('size')}"
    if sys.platform.startswith("linux") and data[:4] != b"\x7fELF":
        return f"{so_name} is not an ELF file"
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        return f"{so_name} differs from what the build wrote (sha256 mismatch)"
    return None


def _load_so(path: Path, ext: Extension):
    for name in ext.preimport:
        importlib.import_module(name)
    loader = importlib.machinery.ExtensionFileLoader(ext.module, str(path))
    spec = importlib.util.spec_from_file_location(ext.module, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load(ext: Extension = SHIM):
    """The module of `ext`: the cached build when it is valid, else a new build (see the module doc)."""
    folder = build_dir(ext)
    problem = validate(folder, ext)
    if problem is not None:
        build(folder, ext=ext, reason=problem)
    try:
        return _load_so(folder / ext.so_name, ext)
    except ImportError as e:  # valid bytes that do not load, e.g. torch was replaced by another build
        build(folder, ext=ext, reason=f"it does not load ({e})", force=True)
        return _load_so(folder / ext.so_name, ext)


def invoked_as_cli() -> bool:
    """True in the `deeplink` command's process (its console script imports this package)."""
    return bool(sys.argv) and Path(sys.argv[0]).name in ("deeplink", "cli.py", "-m")


def cli_runs_without_shim() -> bool:
    """True for `deeplink doctor|build|--version`: the console script imports this package before
    the CLI runs, and these commands must work where the shim is not built (or cannot be)."""
    return invoked_as_cli() and len(sys.argv) > 1 and sys.argv[1] in ("doctor", "build", "--version")


# ---------------------------------------------------------------- the toolchain
def toolchain_problems() -> list[tuple[str, str]]:
    """(what, how to fix) for each missing piece the build needs; [] when all are there."""
    problems = []
    cxx = compiler()
    if shutil.which(cxx.split()[0] if cxx.split() else cxx) is None:
        where = f"CXX={cxx} does not exist" if "CXX" in os.environ else "no `c++` on PATH and CXX is not set"
        problems.append(("C++ compiler", f"deeplink needs a C++ compiler to build its shim ({where}). Install g++ "
                         f"(Debian/Ubuntu: apt-get install g++; Fedora: dnf install gcc-c++; conda: conda install -c "
                         f"conda-forge gxx) or set CXX to a C++17 compiler"))
    from torch.utils import cpp_extension
    if not cpp_extension.is_ninja_available():
        problems.append(("ninja", "deeplink builds its shim with ninja, which is not installed: pip install ninja"))
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        problems.append(("Python headers", f"Python.h is missing from {sysconfig.get_paths()['include']}: install the "
                         f"Python development headers (Debian/Ubuntu: apt-get install python3-dev)"))
    torch_include = Path(cpp_extension.include_paths()[0])
    if not (torch_include / "torch" / "extension.h").exists():
        problems.append(("torch headers", f"torch's C++ headers are missing from {torch_include}: reinstall torch "
                         f"from a wheel that ships them (pip install --force-reinstall torch==<version>)"))
    return problems


# ---------------------------------------------------------------- building
def build(folder: Path | None = None, *, ext: Extension = SHIM, reason: str = "", force: bool = False) -> Path:
    """Build and publish `ext` into `folder` (default: build_dir(ext)) unless a valid build is
    already there (`force`: rebuild anyway). Returns the folder."""
    folder = folder or build_dir(ext)
    root = folder.parent
    problems = toolchain_problems()
    if problems:
        raise ShimBuildError("; ".join(fix for _, fix in problems) + ". Then import deeplink again; "
                             "`deeplink doctor` lists everything the build needs.")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        from .cache_dirs import unwritable_message
        raise ShimBuildError(unwritable_message(root, e)) from None
    with _BuildLock(root / (folder.name + ".lock")):
        if not force and validate(folder, ext) is None:
            return folder  # another process built it while this one waited
        _remove_leftovers(root)
        if reason and reason != "not built yet":
            _say(f"deeplink: the cached {ext.folder} build {folder} is unusable ({reason}); rebuilding it")
        identity = _identity(csrc_dir(), ext)
        tmp = root / f"{folder.name}.tmp-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            seeded = _seed(tmp, root, identity, ext)
            try:
                seconds = _compile(tmp, folder, ext)
            except ShimBuildError:
                if not seeded:
                    _keep_failed(tmp, folder, identity, ext)
                    raise
                _say("deeplink: the incremental build failed; building from scratch")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                try:
                    seconds = _compile(tmp, folder, ext)
                except ShimBuildError:
                    _keep_failed(tmp, folder, identity, ext)
                    raise
            if _identity(csrc_dir(), ext) != identity:
                raise ShimBuildError(f"deeplink: the {ext.folder} sources in {csrc_dir()} changed while it was being "
                                     f"compiled; import again to build the current sources")
            data = (tmp / ext.so_name).read_bytes()
            manifest = dict(identity, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                            built=time.strftime("%Y-%m-%dT%H:%M:%S"), finished=time.time(), seconds=round(seconds, 1))
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
            _publish(tmp, folder, ext)
            _remove_failed(root, ext)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _publish(tmp: Path, folder: Path, ext: Extension) -> None:
    if folder.exists():  # an unusable build: move it aside first (processes that mapped it keep their copy)
        aside = folder.with_name(f"{folder.name}.broken-{os.getpid()}-{secrets.token_hex(3)}")
        try:
            os.rename(folder, aside)
        except FileNotFoundError:
            pass
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError:
        if validate(folder, ext) is not None:  # someone else published in between: theirs must be good
            raise


def _keep_failed(tmp: Path, folder: Path, identity: dict, ext: Extension) -> None:
    """Keep the objects of a failed build (as `<build>.failed`) for the next build to start from:
    fixing one source then recompiles that source only."""
    failed = folder.with_name(folder.name + ".failed")
    try:
        (tmp / MANIFEST).write_text(json.dumps(dict(identity, failed=True, finished=time.time()), indent=1))
        _remove_failed(folder.parent, ext)
        os.rename(tmp, failed)
    except OSError:
        pass


def _remove_failed(root: Path, ext: Extension) -> None:
    """Objects of failed builds of `ext` for this torch and Python (one is kept at most; a
    published build is a better start for the next build)."""
    for old in root.glob(_prefix(ext) + "*.failed"):
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Temporary folders of builds whose process is gone (killed builds), and set-aside builds."""
    host = socket.gethostname()
    for path in root.glob("*-torch*.*-*"):
        m = re.fullmatch(r".+-torch.+\.tmp-(.+)-(\d+)-[0-9a-f]+", path.name)
        if (m and m.group(1) == host and not _alive(int(m.group(2)))) or ".broken-" in path.name:
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _seed(tmp: Path, root: Path, identity: dict, ext: Extension) -> bool:
    """Copy the object files of the newest earlier build (published, or failed) made with the same
    compiler and torch, for the sources that are identical, so ninja compiles only what changed.
    Objects keep their mtime and ninja's logs come along: ninja then also recompiles what includes
    a changed header. That relies on a changed header being newer than the earlier build, which is
    checked (a header restored with an old mtime makes the build start from scratch)."""
    tmp.mkdir()
    prefix = _prefix(ext)
    candidates = [d for d in root.glob(prefix + "*")
                  if re.fullmatch(r"[0-9a-f]{16}(\.failed)?", d.name[len(prefix):]) and d.is_dir()]
    for old in sorted(candidates, key=lambda d: d.stat().st_mtime, reverse=True):
        try:
            manifest = json.loads((old / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if any(manifest.get(k) != identity[k] for k in ("torch", "torch_location", "compiler", "cflags")):
            continue
        headers = manifest.get("headers")
        if not isinstance(headers, dict) or any(
                (csrc_dir() / h).stat().st_mtime <= manifest.get("finished", float("inf"))
                for h, d in identity["headers"].items() if headers.get(h) != d):
            continue
        same = [name for name, digest in identity["sources"].items() if manifest["sources"].get(name) == digest]
        if not same:
            return False
        for name in same:
            obj = old / (Path(name).stem + ".o")
            if obj.exists():
                shutil.copy2(obj, tmp / obj.name)  # same mtime: ninja checks it against its deps log
        for log in (".ninja_log", ".ninja_deps"):
            if (old / log).exists():
                shutil.copy2(old / log, tmp / log)
        return True
    return False


_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")


def _compile(tmp: Path, folder: Path, ext: Extension) -> float:
    """Run the compiler (a child process, see _compile_shim.py), showing one line per step."""
    import torch
    root = csrc_dir()
    spec = {"name": ext.module, "sources": [str(s) for s in _sources(root, ext)],
            "include_dirs": [str(root / "include")], "cflags": CFLAGS, "build_directory": str(tmp),
            "preimport": list(ext.preimport)}
    t0 = time.time()
    what = "shim" if ext == SHIM else f"{ext.folder} extension"
    _say(f"deeplink: compiling the C++ {what} for torch {torch.__version__} into {folder} (once per torch install "
         f"and deeplink version; 1-3 minutes on 2 cores; `deeplink build` does it ahead of time)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_compile_shim.py")), json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(tmp))
    log = []
    verbose = bool(os.environ.get("DEEPLINK_BUILD_VERBOSE"))
    for line in proc.stdout:
        log.append(line)
        if verbose:
            _say(line.rstrip())
            continue
        m = _PROGRESS.match(line)
        if m:
            src = re.search(r"(\S+)\.(cpp|cu)\b", m.group(3))
            step = f"compiling {Path(src.group(1)).name}.{src.group(2)}" if src and " -c " in m.group(3) else "linking"
            _say(f"deeplink:   [{m.group(1)}/{m.group(2)}] {step} ({time.time() - t0:.0f} s)")
    if proc.wait() != 0:
        failed_log = folder.with_name(folder.name + ".failed.log")
        try:
            failed_log.write_text("".join(log))
        except OSError:
            failed_log = None
        errors = [ln.rstrip() for ln in log if re.search(r"\berror\b", ln) and "Traceback" not in ln][:12] or \
            [ln.rstrip() for ln in log[-12:]]
        raise ShimBuildError(f"deeplink could not compile its C++ {what}:\n  " + "\n  ".join(errors) +
                             (f"\nFull log: {failed_log}." if failed_log else "") +
                             " `deeplink doctor` checks the compiler, ninja and headers.")
    seconds = time.time() - t0
    _say(f"deeplink: {what} built in {seconds:.0f} s")
    return seconds


class _BuildLock:
    """flock on <build>.lock. The kernel releases an flock when its holder dies, so a killed build
    never leaves it held; the holder's pid is written in the file for the waiting message. After
    DEEPLINK_BUILD_LOCK_TIMEOUT seconds, or when the recorded holder is dead (the lock leaked into
    a child process), the waiter builds without it: publishing is atomic, so that is safe."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = -1

    def __enter__(self):
        timeout = float(os.environ.get("DEEPLINK_BUILD_LOCK_TIMEOUT", LOCK_TIMEOUT_S))
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline, announced = time.monotonic() + timeout, False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                               "since": time.time()}).encode(), 0)
                return self
            except BlockingIOError:
                pass
            except OSError:  # no flock on this file system: build without it
                return self
            holder = self._holder()
            same_host = holder.get("host") == socket.gethostname()
            if same_host and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
                _say(f"deeplink: the build lock {self.path} is held, but its process {holder['pid']} is gone; "
                     f"building without it")
                return self
            if time.monotonic() > deadline:
                _say(f"deeplink: waited {timeout:.0f} s for process {holder.get('pid', '?')} to build the shim; "
                     f"building without it (DEEPLINK_BUILD_LOCK_TIMEOUT sets the wait)")
                return self
            if not announced:
                _say(f"deeplink: waiting for process {holder.get('pid', '?')}, which is building the shim "
                     f"(lock {self.path})")
                announced = True
            time.sleep(0.2)

    def _holder(self) -> dict:
        try:
            holder = json.loads(os.pread(self.fd, 4096, 0) or b"{}")
            return holder if isinstance(holder, dict) else {}
        except (OSError, ValueError):
            return {}

    def __exit__(self, *exc):
        os.close(self.fd)  # releases the flock

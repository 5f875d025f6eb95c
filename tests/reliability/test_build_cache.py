"""The compiled-shim cache (deeplink/_build.py) under faults: a build killed midway, a damaged
.so, concurrent first imports, a stale or held lock, a cache that cannot be written, a changed
source (incremental rebuild). Every case runs the real cache code in child processes on a tiny
stand-in for csrc/ (tiny_shim.py), so a build takes seconds; the first import of the real shim
without a compiler is checked against the real package."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability import tiny_shim


@pytest.fixture
def csrc(tmp_path):
    return tiny_shim.write_csrc(tmp_path / "csrc")


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory):
    """(cache, csrc) with one build published, made once for the tests that only damage it."""
    root = tmp_path_factory.mktemp("prebuilt")
    cache, csrc = root / "cache", tiny_shim.write_csrc(root / "csrc")
    _loaded(tiny_shim.run(cache, csrc))
    return cache, csrc


def _published(cache: Path) -> list[Path]:
    return [p for p in cache.glob("shim-*") if p.is_dir() and re.fullmatch(r"shim-.*-[0-9a-f]{16}", p.name)]


def _loaded(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOADED")][-1]
    return line


def test_build_publishes_atomically_and_validates(tmp_path, csrc):
    cache = tmp_path / "cache"
    first = tiny_shim.run(cache, csrc)
    assert _loaded(first).endswith(" 42")
    assert "compiling" in first.stderr
    [folder] = _published(cache)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["size"] == (folder / "deeplink_C.so").stat().st_size
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name], "a temporary build folder was left behind"
    again = tiny_shim.run(cache, csrc)
    _loaded(again)
    assert "compiling" not in again.stderr, "a valid build must load without the compiler"


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete-manifest", "garbage"])
def test_damaged_build_is_rebuilt_never_loaded(tmp_path, prebuilt, damage):
    cache, csrc = tmp_path / "cache", prebuilt[1]
    shutil.copytree(prebuilt[0], cache)
    [folder] = _published(cache)
    so = folder / "deeplink_C.so"
    data = so.read_bytes()
    if damage == "truncate":
        so.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        so.write_bytes(data[:-100] + bytes(b ^ 0xFF for b in data[-100:]))
    elif damage == "delete-manifest":
        (folder / "manifest.json").unlink()
    else:
        so.write_bytes(b"not an ELF file at all" * 100)
    proc = tiny_shim.run(cache, csrc)
    assert _loaded(proc).endswith(" 42")
    assert "unusable" in proc.stderr and "rebuilding" in proc.stderr
    [folder] = _published(cache)
    assert json.loads((folder / "manifest.json").read_text())["size"] == (folder / "deeplink_C.so").stat().st_size


def test_killed_build_leaves_nothing_that_blocks(tmp_path, csrc):
    """A build killed while compiling (its whole process group, as Ctrl-C or a job scheduler would)
    leaves a temporary folder and torch's lock file in it; the next import builds anyway."""
    cache = tmp_path / "cache"
    slow = tmp_path / "slow-c++"
    pids = tmp_path / "compiler.pids"
    # Compiling hangs. Ninja starts each compiler in its own process group, so killing the build's
    # group leaves them: they write their pid (exec keeps it) and the test ends them itself.
    slow.write_text(f'#!/bin/sh\ncase " $* " in *" -c "*) echo $$ >> {pids}; exec sleep 600;; esac\nexec c++ "$@"\n')
    slow.chmod(0o755)
    proc = tiny_shim.start(cache, csrc, {"CXX": str(slow)})
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not list(cache.glob("*.tmp-*/build.ninja")):
            time.sleep(0.2)
        assert list(cache.glob("*.tmp-*/build.ninja")), "the build did not start"
        time.sleep(2)  # the compiler is running
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        for pid in (pids.read_text().split() if pids.exists() else []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    leftovers = list(cache.glob("*.tmp-*"))
    assert leftovers and not _published(cache)
    after = tiny_shim.run(cache, csrc, timeout=240)
    assert _loaded(after).endswith(" 42")
    assert not [p for p in leftovers if p.exists()], "the killed build's folder was not cleaned up"


def test_concurrent_first_imports_build_once(tmp_path, csrc):
    cache = tmp_path / "cache"
    procs = [tiny_shim.start(cache, csrc) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.startswith("LOADED") and out.split()[-1] == "42"
    compiles = sum("compiling the C++ shim" in err for _, err in outs)
    assert compiles == 1, f"{compiles} processes compiled: " + "\n---\n".join(err for _, err in outs)


def test_lock_of_a_dead_process_and_held_lock_timeout(tmp_path, csrc):
    cache = tmp_path / "cache"
    cache.mkdir()
    # A lock file naming a process that no longer exists (and no flock held): no obstacle.
    name = _lock_name(cache, csrc)
    (cache / name).write_text(json.dumps({"pid": 2 ** 22 + 11, "host": os.uname().nodename, "since": 0}))
    _loaded(tiny_shim.run(cache, csrc))
    # A lock held by a live process that never finishes: the waiter builds on its own after the timeout.
    for p in _published(cache):
        subprocess.run(["rm", "-rf", str(p)], check=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, json, os, sys, time; f = open(sys.argv[1], 'r+'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); f.truncate(0); f.write(json.dumps({'pid': os.getpid(), "
                               "'host': os.uname().nodename})); f.flush(); print('held', flush=True); time.sleep(600)",
                               str(cache / name)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.time()
        proc = tiny_shim.run(cache, csrc, {"DEEPLINK_BUILD_LOCK_TIMEOUT": "3"})
        assert _loaded(proc).endswith(" 42")
        assert "waiting for process" in proc.stderr and "building without it" in proc.stderr
        assert time.time() - t0 < 200
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()


def _lock_name(cache: Path, csrc: Path) -> str:
    code = ("import sys; sys.argv[1:] = [sys.argv[1], sys.argv[2]]; import tiny_shim as t; b = t._standalone_build_module();"
            " from pathlib import Path; b.csrc_dir = lambda: Path(sys.argv[2]); b.shim_root = lambda: Path(sys.argv[1]);"
            " print(b.build_dir().name + '.lock')")
    out = subprocess.run([sys.executable, "-c", code, str(cache), str(csrc)], capture_output=True, text=True,
                         cwd=Path(tiny_shim.__file__).parent, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_unwritable_cache_gives_one_clear_message(tmp_path, csrc):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a cache path through a file cannot be created, also for root
    proc = tiny_shim.run(blocker / "cache", csrc)
    assert proc.returncode == 3, proc.stderr
    message = proc.stderr.strip()
    assert message.count("\n") == 0, message
    assert "DEEPLINK_CACHE_DIR" in message and "XDG_CACHE_HOME" in message and "cannot write" in message


def test_changed_source_recompiles_only_that_file(tmp_path, csrc):
    cache = tmp_path / "cache"
    _loaded(tiny_shim.run(cache, csrc))
    tiny_shim.write_csrc(csrc, other=1)  # other.cpp changes, module.cpp and the header do not
    proc = tiny_shim.run(cache, csrc)
    assert _loaded(proc).endswith(" 43")
    compiled = [ln for ln in proc.stderr.splitlines() if "compiling " in ln and ".cpp" in ln]
    assert len(compiled) == 1 and "other.cpp" in compiled[0], proc.stderr
    assert len(_published(cache)) == 2  # the earlier build stays: another checkout may still use it


def test_no_compiler_first_import_is_one_message(tmp_path):
    """The real package: an empty cache, no compiler. `import deeplink` fails with one clear
    error; the CLI prints one line; `deeplink doctor` still runs and names what is missing."""
    env = dict(os.environ, DEEPLINK_BUILD_DIR=str(tmp_path / "empty"), DEEPLINK_CACHE_DIR=str(tmp_path / "cache"),
               CXX=str(tmp_path / "no-such-c++"))
    proc = subprocess.run([sys.executable, "-c", "import deeplink"], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "deeplink needs a C++ compiler" in lines[-1] and "deeplink doctor" in lines[-1]
    assert len(lines) <= 6, proc.stderr
    cli = Path(sys.executable).with_name("deeplink")
    info = subprocess.run([str(cli), "info"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert info.returncode == 1 and info.stderr.strip().count("\n") == 0, info.stderr
    assert info.stderr.startswith("deeplink: deeplink needs a C++ compiler")
    doctor = subprocess.run([str(cli), "doctor"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert any(ln.startswith("MISSING C++ compiler") and "CXX=" in ln for ln in doctor.stdout.splitlines()), doctor.stdout

"""Inject each fault of docs/reliability.md into a fresh process and print what happened, as the
table in that page ("fault injected | result").

    python scripts/fault_table.py                        # this checkout
    python scripts/fault_table.py --tree /path/to/other  # another checkout of deeplink (e.g. an
                                                         # older commit), with this interpreter
    python scripts/fault_table.py --only plugin          # scenarios whose name contains "plugin"
    python scripts/fault_table.py --tree OLD --json before.json && \
        python scripts/fault_table.py --compare before.json   # "fault | before | after" (as in the docs)

scripts/fault_table_before.json is the "before" column of docs/reliability.md: `--tree` on a
checkout of main at b7ffa45 (before the reliability work) with `--json`; its "kernel-" rows were
measured on 71a6659, the last commit before the router checked what kernels return (`--only kernel-`),
its "exit-" rows on 17c7a6a, the last commit before the clean-exit hook (`--only exit-`).

Every scenario runs in its own subprocess with a timeout, so a crash or a hang is a result
("crash: SIGSEGV", "hang: killed after 60 s"), not the end of the run. The scenarios use only the
public plugin API (Backend, runtimes, PythonKernel, CKernel), so they run unchanged against older
checkouts. Build-cache scenarios work on copies of the current shim build in a temporary cache
folder; they never touch the real cache.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PRELUDE = """
import os, sys, threading, time, warnings
warnings.simplefilter("ignore")


def first(e, n=90):
    \"\"\"An exception as one short line: its class and the first line of its message.\"\"\"
    lines = str(e).strip().splitlines()
    return type(e).__name__ + ": " + (lines[0][:n] if lines else "")
"""

# Backends written with the plugin API, for scenarios that need a Python runtime or Python kernels
# (tests/ is on the scenario's path: TableBackend(name, kernel table, runtime=HostRuntime())).
PLUGIN_HELPERS = """
import torch, deeplink
from deeplink.kernels import PythonKernel
from deeplink.runtime import HostRuntime
from plugins.hostbackend import TableBackend


def py_add(self, other, *, alpha=1):
    return torch.from_numpy((deeplink.host_view(self) + alpha * deeplink.host_view(other)).numpy()).to("deeplink")
"""


@dataclass
class Scenario:
    name: str
    fault: str                    # the table's first column
    code: str                     # run in a fresh interpreter; prints "RESULT: ..." when it ends normally
    timeout: float = 120
    env: dict = field(default_factory=dict)
    setup: object = None          # fn(tmp: Path, env: dict) run in this process before the child starts
    plugins: bool = False         # prepend PLUGIN_HELPERS


def _result(code_tail: str) -> str:
    return textwrap.dedent(code_tail)


SCENARIOS: list[Scenario] = []


def scenario(name, fault, code, **kw):
    SCENARIOS.append(Scenario(name, fault, textwrap.dedent(code), **kw))


# ---------------------------------------------------------------- memory overlap
scenario("overlap-passthrough", "`x[1:].add_(x[:-1])` on the cpu backend (Passthrough)", """
    import torch, deeplink
    x = torch.arange(1., 10., device="deeplink")
    try:
        x[1:].add_(x[:-1])
        print("RESULT: silent wrong result", x.cpu().tolist()[:5], "...")
    except RuntimeError as e:
        print("RESULT:", first(e, 70))
""")
scenario("overlap-out-cat", "`torch.cat((y, z), out=z[:2])` (out= overlapping an input), cpu backend", """
    import torch, deeplink
    y, z = torch.randn(4, 6, device="deeplink"), torch.zeros(4, 6, device="deeplink")
    try:
        torch.cat((y, z), out=z[:2])
        print("RESULT: silent success")
    except RuntimeError as e:
        print("RESULT:", first(e, 70))
""")
scenario("overlap-copy", "`x[1:].copy_(x[:-1])` on the onnxruntime backend (Python kernels)", """
    import torch, deeplink
    deeplink.use("onnxruntime")
    x = torch.arange(1., 10., device="deeplink")
    try:
        x[1:].copy_(x[:-1])
        print("RESULT: silent wrong result", x.cpu().tolist()[:5], "...")
    except RuntimeError as e:
        print("RESULT:", first(e, 70))
""")
scenario("overlap-python-kernel", "`x[1:].add_(x[:-1])` on a plugin whose add_ is a Python kernel", """
    deeplink.register_backend(TableBackend("pyk", {"add_.Tensor": PythonKernel(
        lambda self, other, alpha=1: (deeplink.host_view(self).add_(deeplink.host_view(other), alpha=alpha), self)[1])}))
    deeplink.use("pyk")
    x = torch.arange(1., 10., device="deeplink")
    try:
        x[1:].add_(x[:-1])
        print("RESULT: silent wrong result", x.cpu().tolist()[:5], "...")
    except RuntimeError as e:
        print("RESULT:", first(e, 70))
""", plugins=True)
for _backend, _plugin in (("cpu", ""), ("onnxruntime", ""), ("ascend", "ascend")):
    scenario(f"error-inputs-{_backend}", f"PyTorch OpInfo error inputs on the {_backend} backend"
             + (" (emulator)" if _backend == "ascend" else ""), f"""
        import subprocess, sys
        args = [sys.executable, {str(REPO / "tests" / "reliability" / "error_inputs.py")!r}, {_backend!r}]
        if {_plugin!r}:
            try:
                import ascend_emulator.plugin  # noqa: F401
                args += ["--plugin", "ascend_emulator.plugin:register"]
            except ImportError:
                args += ["--plugin", "deeplink.backends.ascend.emulator.plugin:register"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=1500)
        last = (out.stdout.strip().splitlines() or ["(no output) " + out.stderr[-300:]])[-1]
        print("RESULT:", last.split(": ", 1)[-1] if out.returncode == 0 else f"exit {{out.returncode}}: {{last}}")
    """, timeout=1800, env={"PYTHONPATH_EXTRA": "{tree}/tests"})

# ---------------------------------------------------------------- C kernels
scenario("ckernel-empty-view", "C kernel called on `x[6:]` (empty view at offset 6)", f"""
    import tempfile
    from deeplink.ckernel import CKernel, build_library
    lib = build_library({str(REPO / "tests" / "plugins" / "ckernels_test.c")!r}, tempfile.mkdtemp() + "/k.so")
    deeplink.register_backend(TableBackend("ck", {{"add.Tensor": CKernel(lib, "t_add", "add.Tensor",
                                                                      "out, self, other, double alpha")}}))
    deeplink.use("ck")
    x = torch.arange(6., device="deeplink")
    try:
        r = x[6:] + x[6:]
        print("RESULT: ok, shape", tuple(r.shape))
    except Exception as e:
        print("RESULT:", first(e, 70))
""", plugins=True)

# ---------------------------------------------------------------- what backend kernels return
# A plugin's Python kernel returns something wrong; the scenario calls the op and says what came
# back (or the error). "kernel-" rows: (name, fault, op, kernel, the call).
_host = "deeplink.host_view"
for _name, _fault, _op, _kernel, _call in (
    ("kernel-wrong-device", "a plugin's Python kernel for `x + y` returns a CPU tensor", "add.Tensor",
     "lambda self, other, alpha=1: torch.ones(4)", "x + y"),
    ("kernel-wrong-shape", "a plugin's Python kernel for `x + y` returns a tensor of the wrong shape", "add.Tensor",
     "lambda self, other, alpha=1: torch.ones(2, device='deeplink')", "x + y"),
    ("kernel-wrong-dtype", "a plugin's Python kernel for `x + y` (float32) returns float64", "add.Tensor",
     "lambda self, other, alpha=1: torch.ones(4, dtype=torch.float64, device='deeplink')", "x + y"),
    ("kernel-none", "a plugin's Python kernel for `x + y` returns None", "add.Tensor",
     "lambda self, other, alpha=1: None", "x + y"),
    ("kernel-count", "a plugin's Python kernel for `x.max(0)` returns one tensor, not (values, indices)", "max.dim",
     "lambda self, dim, keepdim=False: torch.ones((), device='deeplink')", "x.max(0)"),
    ("kernel-input-returned", "a plugin's Python kernel for `x + y` returns its input `x`", "add.Tensor",
     f"lambda self, other, alpha=1: ({_host}(self).add_({_host}(other)), self)[1]", "x + y"),
    ("kernel-new-for-inplace", "a plugin's Python kernel for `x.add_(y)` returns a new tensor, leaving x", "add_.Tensor",
     "lambda self, other, alpha=1: torch.full((4,), 2.0, device='deeplink')", "x.add_(y)"),
    ("kernel-systemexit", "a plugin's Python kernel for `x + y` raises SystemExit", "add.Tensor",
     "lambda self, other, alpha=1: sys.exit(3)", "x + y"),
):
    scenario(_name, _fault, f"""
        deeplink.register_backend(TableBackend("bad", {{{_op!r}: PythonKernel({_kernel})}}))
        deeplink.use("bad")
        x, y = torch.ones(4, device="deeplink"), torch.ones(4, device="deeplink")
        try:
            r = {_call}
        except Exception as e:
            print("RESULT:", first(e, 110))
        else:
            what = [f"{{t.dtype}} {{tuple(t.shape)}} on {{t.device}}" + (" (x itself)" if t is x else "")
                    if isinstance(t, torch.Tensor) else repr(t) for t in (r if isinstance(r, tuple) else (r,))]
            print("RESULT: no error; returned", ", ".join(what), "; x =", x.cpu().tolist())
    """, plugins=True)

# ---------------------------------------------------------------- concurrency
scenario("switch-race", "4 threads run ops while 2 threads switch cpu <-> a Python-kernel backend, "
         "change the fallback mode and empty the cache, 4 s", """
    deeplink.register_backend(TableBackend("pyk", {"add.Tensor": PythonKernel(py_add)}))
    stop, wrong, errors, ops = time.time() + 4, [], {}, [0]

    def work():
        while time.time() < stop:
            try:
                a = torch.arange(64., device="deeplink")
                b = (a + a).cpu()
                if not torch.equal(b, torch.arange(64.) * 2):
                    wrong.append(b[:4].tolist())
                ops[0] += 1
            except RuntimeError as e:   # tensors made under the other backend: a clear error
                errors[str(e)[:40]] = errors.get(str(e)[:40], 0) + 1

    def switch():
        i = 0
        while time.time() < stop:
            deeplink.use("pyk" if i % 2 else "cpu")
            deeplink.set_fallback_mode("silent" if i % 3 else "warn")
            torch.deeplink.empty_cache()
            i += 1

    threads = [threading.Thread(target=work) for _ in range(4)] + [threading.Thread(target=switch) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("RESULT: no crash;", ops[0], "ops,", len(wrong), "wrong results,", sum(errors.values()), "clear errors")
""", plugins=True, timeout=60)


# ---------------------------------------------------------------- process exit
scenario("exit-graph-release", "the program ends while autograd's device thread still releases the last "
         "backward's graph (its release lets go of the GIL for 0.5 s)",
         (REPO / "tests" / "reliability" / "slow_graph_release.py").read_text())


# ---------------------------------------------------------------- build cache
def _copy_build(tmp: Path, env: dict) -> Path:
    """A copy of the current shim build (of the measured checkout) under tmp/cache; returns the .so."""
    probe = subprocess.run([sys.executable, "-c", "import deeplink, deeplink._build as b; print(b.build_dir())"],
                           capture_output=True, text=True, env=env, cwd=tmp, timeout=900)
    if probe.returncode != 0:
        raise RuntimeError(f"cannot locate the shim build: {probe.stderr[-500:]}")
    src = Path(probe.stdout.strip().splitlines()[-1])
    dst = tmp / "cache" / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", "lock"))
    env["DEEPLINK_BUILD_DIR"] = env["DEEPLINK_CACHE_DIR"] = str(dst.parent)
    return next(dst.glob("*.so"))


def _truncate(tmp: Path, env: dict) -> None:
    so = _copy_build(tmp, env)
    data = so.read_bytes()
    so.write_bytes(data[: len(data) // 2])


def _stale_baton(tmp: Path, env: dict) -> None:
    so = _copy_build(tmp, env)
    so.unlink()                                     # the build was killed before linking ...
    (so.parent / "lock").write_text("")             # ... leaving torch's build baton behind
    (so.parent.parent / (so.parent.name + ".lock")).write_text(json.dumps({"pid": 2 ** 22 + 7, "host": os.uname().nodename}))


def _unwritable(tmp: Path, env: dict) -> None:
    blocker = tmp / "a-file"
    blocker.write_text("")  # a cache path through a file cannot be created, also for root (chmod would not stop it)
    env["DEEPLINK_BUILD_DIR"] = env["DEEPLINK_CACHE_DIR"] = str(blocker / "cache")


IMPORT_AND_ADD = """
    t0 = time.time()
    import torch, deeplink
    print("RESULT: import ok after %.0f s;" % (time.time() - t0), "x + x =", (torch.ones(2, device="deeplink") * 2).cpu().tolist())
"""
scenario("cache-truncated", "shim cache: the cached .so truncated to half its size", IMPORT_AND_ADD,
         setup=_truncate, timeout=1200)
scenario("cache-killed-build", "shim cache: a build killed before linking (leftover lock files, no .so)",
         IMPORT_AND_ADD, setup=_stale_baton, timeout=300)
scenario("cache-unwritable", "shim cache: empty, and its folder cannot be created or written", """
    try:
        import deeplink
        print("RESULT: import ok")
    except BaseException as e:
        import traceback
        lines = traceback.format_exc().count("\\n")
        print("RESULT:", type(e).__name__, f"({lines} traceback lines):", str(e).splitlines()[0][:90])
""", setup=_unwritable, timeout=300)


def _two_envs(tmp: Path, env: dict) -> None:
    env["DEEPLINK_CACHE_DIR"] = str(tmp / "cache")
    venv = tmp / "venv2"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    import sysconfig
    Path(site, "_parent.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    (tmp / "second_python").write_text(str(venv / "bin" / "python"))


# Run in each environment: load the opset (the second one with its own copy of torch's yaml, as a
# second torch install would have) and print where its cache file is.
OPSET_CHILD = """
import sys, shutil, pathlib, deeplink.opset.cache as c
if len(sys.argv) > 1:
    mine = pathlib.Path(sys.prefix) / "native_functions.yaml"
    shutil.copy(c.find_native_functions_yaml(), mine)
    c.find_native_functions_yaml = lambda: mine
c.load_opset()
print(c.cache_path())
"""
scenario("cache-two-envs", "opset cache: two virtualenvs (each its own torch) share one cache folder", f"""
    import subprocess
    code = {OPSET_CHILD!r}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()[-1]
    second = subprocess.run([open("second_python").read(), "-c", code, "2"], capture_output=True, text=True)
    print("RESULT: first environment's opset cache", "still there" if os.path.exists(first) else "deleted by the second")
""", setup=_two_envs, timeout=300)


def _no_compiler(tmp: Path, env: dict) -> None:
    env["DEEPLINK_BUILD_DIR"] = env["DEEPLINK_CACHE_DIR"] = str(tmp / "empty-cache")
    env["CXX"] = "/nonexistent/c++"
    env["PATH"] = "/nonexistent"


scenario("no-compiler", "first `import deeplink` on a machine without a C++ compiler", """
    import subprocess
    out = subprocess.run([sys.executable, "-c", "import deeplink"], capture_output=True, text=True)
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    print("RESULT:", f"{len(lines)} lines on stderr; last:", lines[-1][:100] if lines else "")
""", setup=_no_compiler, timeout=300)

# ---------------------------------------------------------------- vendor runtimes
RUNTIME_FAULT = """
class Faulty(HostRuntime):
    def __init__(self, fault):
        super().__init__()
        self.fault, self.frees = fault, 0

    def malloc(self, device, nbytes):
        p = super().malloc(device, nbytes + 16)
        if self.fault == "null":
            super().free(device, p)
            return 0
        return p + 1 if self.fault == "misaligned" else p

    def free(self, device, ptr):
        self.frees += 1
        if self.fault == "free" and self.frees == 2:
            raise OSError("vendor free failed")
        super().free(device, ptr - 1 if self.fault == "misaligned" else ptr)
"""
for _fault, _what in (("null", "Python runtime: malloc returns 0 (NULL) without raising"),
                      ("misaligned", "Python runtime: malloc returns an odd (misaligned) address"),
                      ("free", "Python runtime: the 2nd free raises, then `empty_cache()`")):
    scenario(f"runtime-{_fault}", _what, RUNTIME_FAULT + f"""
deeplink.register_backend(TableBackend("faulty", {{}}, Faulty({_fault!r})))
deeplink.use("faulty")
try:
    for i in range(3):
        x = torch.ones(16, device="deeplink") * 2
        s = x.sum().item()
        del x
    torch.deeplink.empty_cache()
    print("RESULT: no error; sum", s)
except Exception as e:
    try:
        torch.deeplink.empty_cache()
        after = "empty_cache() then fine"
    except Exception as e2:
        after = "empty_cache() raised " + first(e2, 60)
    print("RESULT:", first(e, 80), ";", after)
""", plugins=True)

scenario("ctable-null", "C runtime table: malloc returns DL_OK with a NULL pointer", f"""
from deeplink.ckernel import build_library
from deeplink.runtime import CRuntime
import ctypes, tempfile
path = build_library({str(REPO / "tests" / "reliability" / "faulty_runtime.c")!r}, tempfile.mkdtemp() + "/rt.so")
lib = ctypes.CDLL(str(path))
lib.faulty_runtime_table.restype = ctypes.c_void_p
lib.faulty_runtime_configure.argtypes = [ctypes.c_double, ctypes.c_ulonglong, ctypes.c_int, ctypes.c_int]
lib.faulty_runtime_configure(0.0, 0, 1, 0)
deeplink.register_backend(TableBackend("cfaulty", {{}}, CRuntime(lib.faulty_runtime_table(), True, lib)))
deeplink.use("cfaulty")
try:
    x = torch.ones(16, device="deeplink")
    print("RESULT: no error; sum", x.sum().item())
except Exception as e:
    print("RESULT:", first(e))
""", plugins=True)

scenario("device-64-stats", "memory statistics of device 64 (a runtime with 65 devices)", """
class Many(HostRuntime):
    def device_count(self):
        return 65

    def malloc(self, device, nbytes):
        return super().malloc(0, nbytes)

    def free(self, device, ptr):
        super().free(0, ptr)
deeplink.register_backend(TableBackend("many", {}, Many()))
deeplink.use("many")
torch.deeplink.set_device(64)
x = torch.empty(1024, device="deeplink:64")
a0, a64 = torch.deeplink.memory_allocated(0), torch.deeplink.memory_allocated(64)
print("RESULT: device 0 reports", a0, "bytes, device 64 reports", a64, "bytes (4096 allocated on 64)")
""", plugins=True)


# ---------------------------------------------------------------- plugins
def _plugin(body: str, name: str = "bad"):
    def setup(tmp: Path, env: dict) -> None:
        sys.path.insert(0, str(REPO / "tests"))
        from reliability.plugin_site import write_bad_plugin
        env["PYTHONPATH_EXTRA"] = str(write_bad_plugin(tmp / "site", body, name=name))
    return setup


PLUGIN_CHECK = """
    t0 = time.time()
    try:
        import torch, deeplink
    except BaseException as e:
        print("RESULT: import deeplink failed:", first(e, 80)); raise SystemExit(0)
    try:
        x = (torch.ones(3, device="deeplink") + 1).cpu().tolist()
    except Exception as e:
        x = type(e).__name__
    bad = [b for b in deeplink.list_backends() if b["name"] == "bad" or "dlbadplugin" in b["source"]]
    print("RESULT: import ok in %.1f s; active" % (time.time() - t0), deeplink.current_backend(), "; ops", x,
          "; plugin:", (bad[0]["reason"][:70] if bad and not bad[0]["available"] else "available") if bad else "not listed")
"""
scenario("plugin-systemexit", "plugin raises SystemExit when imported",
         PLUGIN_CHECK, setup=_plugin("raise SystemExit(3)\n"))
scenario("plugin-kbint-probe", "plugin's probe() raises KeyboardInterrupt", PLUGIN_CHECK, setup=_plugin("""
    def _probe(self):
        raise KeyboardInterrupt
    Bad.probe = _probe
"""))
scenario("plugin-kernels-raise", "highest-priority available plugin whose kernels() raises",
         PLUGIN_CHECK, setup=_plugin("""
    def _kernels(self):
        raise RuntimeError("vendor kernel table broken")
    Bad.kernels = _kernels
"""))
scenario("plugin-kernels-raise-cpu", "the same, with DEEPLINK_BACKEND=cpu", PLUGIN_CHECK, env={"DEEPLINK_BACKEND": "cpu"},
         setup=_plugin("""
    def _kernels(self):
        raise RuntimeError("vendor kernel table broken")
    Bad.kernels = _kernels
"""))
scenario("plugin-kernels-raise-info", "`deeplink info` with that plugin installed, DEEPLINK_BACKEND=cpu", """
    import subprocess
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "deeplink"), "info"], capture_output=True,
                         text=True, env=dict(os.environ, DEEPLINK_BACKEND="cpu"))
    bad = [l.strip() for l in out.stdout.splitlines() if "vendor kernel table broken" in l]
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    print("RESULT: exit", out.returncode, ";", ("plugin listed: " + bad[0][:80]) if bad else
          ("stderr: " + lines[-1][:90] if lines else "plugin not listed"))
""", setup=_plugin("""
    def _kernels(self):
        raise RuntimeError("vendor kernel table broken")
    Bad.kernels = _kernels
"""), timeout=600)
scenario("plugin-runtime-raise", "highest-priority available plugin whose runtime() raises", PLUGIN_CHECK,
         setup=_plugin("""
    def _runtime(self):
        raise OSError("libvendor.so: cannot open shared object file")
    Bad.runtime = _runtime
"""))
scenario("plugin-named-cpu", "a plugin that calls itself `cpu`", """
    import torch, deeplink
    cpu = [b for b in deeplink.list_backends() if b["name"] == "cpu"]
    print("RESULT: import ok; backend 'cpu' comes from", cpu[0]["source"] if cpu else "?",
          "; plugin:", [b["reason"][:80] for b in deeplink.list_backends() if "dlbadplugin" in b["source"]] or "not listed")
""", setup=_plugin("", name="cpu"))
scenario("plugin-slow-probe", "plugin whose probe() takes 30 s", PLUGIN_CHECK, setup=_plugin("""
    def _probe(self):
        time.sleep(30)
        return Availability.yes()
    Bad.probe = _probe
"""), timeout=120)


# ---------------------------------------------------------------- runner
# For another checkout: a sitecustomize that takes this checkout's editable-install finder out of
# the import system, so that `deeplink` and its mapped folders (csrc/, backends/) all come from
# the measured tree.
ISOLATE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                    and "__editable__" not in type(f).__module__]
"""


def run(s: Scenario, tree: Path, isolate: Path | None) -> str:
    with tempfile.TemporaryDirectory(prefix=f"fault-{s.name}-") as tmp:
        env = dict(os.environ)
        env.pop("DEEPLINK_BACKEND", None)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(s.env)
        tree_path = os.pathsep.join(p for p in (str(isolate or ""), str(tree), str(REPO / "tests")) if p)
        env["PYTHONPATH"] = tree_path
        try:
            if s.setup:
                s.setup(Path(tmp), env)
        except Exception as e:  # noqa: BLE001
            return f"(setup failed: {e})"
        extra = env.pop("PYTHONPATH_EXTRA", "").replace("{tree}", str(tree))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree_path, extra) if p)
        code = PRELUDE + (PLUGIN_HELPERS if s.plugins else "") + s.code
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=s.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return f"hang: no exit after {s.timeout:.0f} s (killed)"
        finally:
            for p in Path(tmp).rglob("*"):       # let TemporaryDirectory remove read-only folders
                if p.is_dir():
                    p.chmod(0o755)
        results = [line[len("RESULT: "):] for line in out.splitlines() if line.startswith("RESULT: ")]
        if proc.returncode < 0:
            return f"crash: {signal.Signals(-proc.returncode).name}" + (f" (after: {results[-1]})" if results else "")
        if results:
            return results[-1]
        lines = [line for line in err.splitlines() if line.strip()]
        return f"exit {proc.returncode} after {time.time() - t0:.0f} s; {len(lines)} lines of stderr, last: " \
               f"{lines[-1][:100] if lines else ''}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tree", default=str(REPO), help="the deeplink checkout to measure (default: this one)")
    p.add_argument("--only", default=None, help="scenarios whose name contains this")
    p.add_argument("--json", default=None, help="also write {name: result} to this file")
    p.add_argument("--compare", default=None, help="a --json file of an earlier run: print it as the 'before' column")
    args = p.parse_args(argv)
    results = {}
    tree = Path(args.tree).resolve()
    before = json.loads(Path(args.compare).read_text()) if args.compare else None
    print("| fault injected | before | after |\n| --- | --- | --- |" if before is not None else
          "| fault injected | result |\n| --- | --- |")
    with tempfile.TemporaryDirectory(prefix="fault-isolate-") as isolate:
        if tree != REPO:
            Path(isolate, "sitecustomize.py").write_text(ISOLATE)
        for s in SCENARIOS:
            if args.only and args.only not in s.name:
                continue
            results[s.name] = run(s, tree, Path(isolate) if tree != REPO else None)
            cells = [before.get(s.name, "(not measured)")] if before is not None else []
            print("| " + " | ".join(c.replace("|", "\\|") for c in [s.fault, *cells, results[s.name]]) + " |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

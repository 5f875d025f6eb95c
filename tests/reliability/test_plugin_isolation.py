"""One broken plugin must not break deeplink for everyone else in the environment.

Each case installs a plugin (a module plus a dist-info on PYTHONPATH: plugin_site.py) whose
import, construction, probe(), runtime() or kernels() raises -- SystemExit and KeyboardInterrupt
included -- or that takes an in-tree backend's name, or whose probe hangs; then, in a fresh
interpreter, `import deeplink` must work, the default must be an available backend that works,
and the plugin must be listed as unavailable with its error. `deeplink info` is run for the worst
cases."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability.plugin_site import write_bad_plugin, write_plugin

REPORT = """
import json, time
t0 = time.time()
import torch, deeplink
import_s = time.time() - t0
x = (torch.ones(3, device="deeplink") + 1).cpu().tolist()
print(json.dumps({"active": deeplink.current_backend(), "x": x, "import_s": import_s,
                  "backends": {b["name"]: [b["available"], b["reason"], b["source"]] for b in deeplink.list_backends()}}))
"""


def _run(site: Path, env: dict | None = None, code: str = REPORT, timeout: float = 300) -> dict:
    full = dict(os.environ, PYTHONPATH=str(site))
    full.pop("DEEPLINK_BACKEND", None)
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=timeout,
                          cwd=site)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


BROKEN = {
    "import-systemexit": "raise SystemExit(3)\n",
    "import-keyboardinterrupt": "raise KeyboardInterrupt\n",
    "construct-raises": """
        def _init(self):
            raise RuntimeError("no licence server")
        Bad.__init__ = _init
    """,
    "probe-systemexit": """
        def _probe(self):
            raise SystemExit(1)
        Bad.probe = _probe
    """,
    "probe-keyboardinterrupt": """
        def _probe(self):
            raise KeyboardInterrupt
        Bad.probe = _probe
    """,
    "runtime-raises": """
        def _runtime(self):
            raise OSError("libvendor.so.3: cannot open shared object file")
        Bad.runtime = _runtime
    """,
    "runtime-systemexit": """
        def _runtime(self):
            raise SystemExit(2)
        Bad.runtime = _runtime
    """,
    "kernels-raises": """
        def _kernels(self):
            raise RuntimeError("vendor kernel table broken")
        Bad.kernels = _kernels
    """,
    "kernels-keyboardinterrupt": """
        def _kernels(self):
            raise KeyboardInterrupt
        Bad.kernels = _kernels
    """,
    "runtime-object-broken": """
        class _NoMemory(HostRuntime):
            def device_count(self):
                raise RuntimeError("driver not loaded")
        Bad.runtime = lambda self: _NoMemory()
    """,
}


def _all_broken(site: Path) -> Path:
    """All the broken plugins at once, each with a higher priority than cpu (the ones that raise
    latest in setup, in kernels(), have the highest)."""
    for rank, case in enumerate(sorted(BROKEN, key=lambda c: c.startswith("kernels"))):
        name = case.replace("-", "_")
        write_bad_plugin(site, BROKEN[case], name=name, module=f"bad_{name}", priority=1000 + rank)
    return site


def test_every_broken_plugin_is_unavailable_and_the_default_falls_to_cpu(tmp_path):
    report = _run(_all_broken(tmp_path / "site"))
    assert report["active"] == "cpu" and report["x"] == [2.0, 2.0, 2.0]
    for case in BROKEN:
        available, reason, _ = report["backends"][case.replace("-", "_")]
        assert not available and reason, (case, reason)


@pytest.mark.parametrize("case", ["import-systemexit", "probe-keyboardinterrupt", "kernels-raises", "runtime-raises"])
def test_broken_highest_priority_plugin_alone(tmp_path, case):
    site = write_bad_plugin(tmp_path / "site", BROKEN[case])
    report = _run(site)
    assert report["active"] == "cpu" and report["x"] == [2.0, 2.0, 2.0]
    available, reason, _ = report["backends"]["bad"]
    assert not available and reason, report["backends"]["bad"]


def test_broken_plugins_with_explicit_cpu_and_deeplink_info(tmp_path):
    site = _all_broken(tmp_path / "site")
    assert _run(site, {"DEEPLINK_BACKEND": "cpu"})["active"] == "cpu"
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("DEEPLINK_BACKEND", None)
    info = subprocess.run([str(Path(sys.executable).with_name("deeplink")), "info", "--json"], capture_output=True,
                          text=True, env=env, timeout=600, cwd=site)
    assert info.returncode == 0, info.stderr[-3000:]
    listed = {b["name"]: b for b in json.loads(info.stdout)["backends"]}
    assert listed["cpu"]["available"] and listed["cpu"]["ops"]
    for case in BROKEN:
        entry = listed[case.replace("-", "_")]
        assert not entry["available"] and entry["reason"], entry
    doctor = subprocess.run([str(Path(sys.executable).with_name("deeplink")), "doctor"], capture_output=True,
                            text=True, env=env, timeout=600, cwd=site)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr[-3000:]
    lines = doctor.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("ok      backend cpu: available")], lines
    for case in BROKEN:
        [line] = [ln for ln in lines if ln.split(":")[0].endswith(f"backend {case.replace('-', '_')}")]
        assert line.startswith("absent") and "unavailable: " in line, line


def test_explicit_use_of_broken_plugin_raises_clearly(tmp_path):
    site = write_bad_plugin(tmp_path / "site", BROKEN["kernels-raises"])
    code = """
import deeplink
try:
    deeplink.use("bad")
except RuntimeError as e:
    print(type(e).__name__, str(e))
print(deeplink.current_backend())
"""
    full = dict(os.environ, PYTHONPATH=str(site))
    full.pop("DEEPLINK_BACKEND", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, active = proc.stdout.strip().splitlines()[-2:]
    assert "'bad'" in first and "vendor kernel table broken" in first and active == "cpu"


@pytest.mark.parametrize("name", ["cpu", "onnxruntime"])
def test_in_tree_names_cannot_be_taken(tmp_path, name):
    site = write_bad_plugin(tmp_path / "site", "", name=name, module="impostor")
    report = _run(site)
    owner = report["backends"][name]
    assert owner[0] is not None and "impostor" not in owner[2], owner  # still deeplink's own backend
    [(key, refused)] = [(k, v) for k, v in report["backends"].items() if "impostor" in v[2]]
    assert not refused[0] and "impostor" in refused[1] and "'deeplink'" in refused[1] and name in refused[1]


def test_two_plugins_one_name(tmp_path):
    site = tmp_path / "site"
    write_bad_plugin(site, "", name="vendorx", module="first_pkg", priority=-5)
    write_bad_plugin(site, "", name="vendorx", module="second_pkg", priority=-5)
    report = _run(site)
    sources = {k: v for k, v in report["backends"].items() if "vendorx" in k}
    assert len(sources) == 2
    refused = [v for v in sources.values() if not v[0]]
    assert len(refused) == 1 and "uninstall one of the two packages" in refused[0][1]


def test_slow_probe_has_a_time_budget(tmp_path):
    site = write_bad_plugin(tmp_path / "site", """
        def _probe(self):
            time.sleep(120)
            return Availability.yes()
        Bad.probe = _probe
    """)
    t0 = time.time()
    report = _run(site, {"DEEPLINK_PROBE_TIMEOUT": "2"}, timeout=100)
    assert time.time() - t0 < 90
    assert report["active"] == "cpu"
    available, reason, _ = report["backends"]["bad"]
    assert not available and "did not finish within 2 s" in reason and "DEEPLINK_PROBE_TIMEOUT" in reason


def test_register_backend_cannot_take_in_tree_name():
    import deeplink
    from deeplink.backend import Backend

    class Cpu(Backend):
        name = "cpu"
    with pytest.raises(ValueError, match="belongs to deeplink's in-tree backend"):
        deeplink.register_backend(Cpu())
    assert deeplink.list_backends()  # the registry is intact
    assert [b for b in deeplink.list_backends() if b["name"] == "cpu"][0]["available"]


def test_plugin_site_helper_writes_an_entry_point(tmp_path):
    site = write_plugin(tmp_path / "site", "okplugin", "X = 1\n", {"okname": "okplugin:X"})
    code = ("import importlib.metadata as m; print([e.value for e in m.entry_points(group='deeplink.backends') "
            "if e.name == 'okname'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(site)), timeout=120)
    assert out.stdout.strip() == "['okplugin:X']"

"""Finding and loading CANN: probe() says exactly why the backend is unavailable, the backend
finds the emulator through the same variables as a real install, and the ctypes prototypes and
the op table agree with the C parameter lists the emulator exports."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_ascend_helpers import emulator, emulator_home

REPO = Path(__file__).resolve().parents[2]
CANN_VARS = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_CANN_PACKAGE_PATH", "DEEPLINK_ASCEND_OP_LIBS")


@pytest.fixture
def no_cann_env(monkeypatch, tmp_path):
    for v in CANN_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path / "nothing-here"))
    from deeplink.backends.ascend._vendor import libraries
    if any(Path(d).expanduser().exists() for d in libraries.DEFAULT_HOMES):
        pytest.skip("a CANN install exists at a default location on this machine")


def _probe(home=None):
    from deeplink.backends.ascend import AscendBackend
    return AscendBackend(home=home).probe()


def test_without_cann_probe_names_variables_libraries_and_fix(no_cann_env):
    a = _probe()
    assert not a.available
    for needle in ("ASCEND_HOME_PATH", "libascendcl.so", "libopapi.so", "set_env.sh",
                   "/usr/local/Ascend/ascend-toolkit/latest"):
        assert needle in a.reason, a.reason
    assert a.details["searched"], "the directories searched are reported"


def _fake_install(root: Path, runtime_source: str):
    lib64 = root / "lib64"
    lib64.mkdir(parents=True)
    src = root / "fake_runtime.c"
    src.write_text(runtime_source)
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib64 / "libascendcl.so"), str(src)], check=True)
    empty = root / "empty.c"
    empty.write_text("int deeplink_fake_library_marker(void) { return 0; }\n")
    for name in ("libnnopbase.so", "libopapi.so"):
        subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib64 / name), str(empty)], check=True)
    return root


def test_incomplete_cann_names_each_missing_symbol(no_cann_env, tmp_path):
    home = _fake_install(tmp_path / "cann", "int aclInit(const char *p) { return 0; }\n"
                                            "const char *aclGetRecentErrMsg(void) { return 0; }\n")
    a = _probe(str(home))
    assert not a.available
    assert "incomplete or too old" in a.reason
    for sym in ("aclrtMalloc", "aclrtMemcpyAsync", "aclrtCreateEvent", "aclCreateTensor", "aclDestroyTensorList"):
        assert sym in a.reason, a.reason
    assert "aclInit" not in a.details["missing_symbols"]


def test_unloadable_library_is_reported_with_the_loader_error(no_cann_env, tmp_path):
    lib64 = tmp_path / "cann" / "lib64"
    lib64.mkdir(parents=True)
    for name in ("libascendcl.so", "libnnopbase.so", "libopapi.so"):
        (lib64 / name).write_bytes(b"not an ELF file")
    a = _probe(str(tmp_path / "cann"))
    assert not a.available
    assert "could not load" in a.reason and "libascendcl.so" in a.reason and "set_env.sh" in a.reason


def _run_probe_subprocess(env_overrides: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CANN_VARS and k != "LD_LIBRARY_PATH"}
    env.update(env_overrides)
    # The installed entry point finds the backend at `import deeplink`, as a user would; a source
    # tree without the entry point registers it by hand.
    code = ("import json, deeplink\n"
            "from deeplink.backends.ascend import AscendBackend\n"
            "try:\n"
            "    rec = deeplink._registry.get('ascend')\n"
            "except ValueError:\n"
            "    rec = deeplink.register_backend(AscendBackend())\n"
            "print(json.dumps({'available': rec.available, 'reason': rec.reason,"
            " 'details': rec.availability.details}, default=str))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_emulator_is_found_through_ASCEND_HOME_PATH_like_cann():
    home = emulator_home()
    r = _run_probe_subprocess({"ASCEND_HOME_PATH": home})
    assert r["available"], r["reason"]
    assert r["details"]["libraries"]["runtime"] == str(Path(home) / "lib64" / "libascendcl.so")
    assert r["details"]["emulator"] is True and r["details"]["missing_aclnn_functions"] == []


def test_emulator_is_found_through_LD_LIBRARY_PATH_alone():
    home = emulator_home()
    r = _run_probe_subprocess({"LD_LIBRARY_PATH": str(Path(home) / "lib64")})
    assert r["available"], r["reason"]
    assert r["details"]["libraries"]["opapi"] == str(Path(home) / "lib64" / "libopapi.so")


def test_no_visible_device_is_reported():
    r = _run_probe_subprocess({"ASCEND_HOME_PATH": emulator_home(), "ASCEND_EMU_DEVICE_COUNT": "0"})
    assert not r["available"]
    assert "no Ascend device is visible" in r["reason"] and "npu-smi" in r["reason"]


def test_ctypes_prototypes_match_the_emulators_c_parameter_lists():
    from deeplink.backends.ascend._vendor.signatures import SIGNATURES, parse_c_parameters
    exported = emulator().signatures()
    assert set(SIGNATURES) <= set(exported), sorted(set(SIGNATURES) - set(exported))
    for name, codes in SIGNATURES.items():
        assert parse_c_parameters(exported[name]) == codes, f"{name}: {exported[name]} vs {codes}"


def test_every_table_entry_matches_its_aclnn_prototype():
    from deeplink.backends.ascend.ops.table import OPS
    from deeplink.backends.ascend._vendor.signatures import SIGNATURES
    used = set()
    for op in OPS:
        for fn, refs in ([(op.aclnn, op.args)] if op.aclnn else []) + [(v.aclnn, v.args) for v in op.variants]:
            assert fn in SIGNATURES, f"{op.aten}: {fn} has no prototype in signatures.py"
            assert tuple(r.code for r in refs) == SIGNATURES[fn], f"{op.aten} -> {fn}: argument types differ"
        used.update(op.aclnn_functions)
    assert used <= set(SIGNATURES), sorted(used - set(SIGNATURES))


def test_the_llm_tier_is_covered_by_the_table_or_by_the_core():
    """Every aten op of the LLM workloads is either in the kernel table, or never reaches a
    backend (views and composites), or is one the core's shim implements for all backends."""
    from deeplink.dispatcher import _SHIM_KERNELS, _is_composite
    from deeplink.backends.ascend.ops.table import OPS
    data = json.loads((REPO / "deeplink" / "data" / "llm_workloads_cuda.json").read_text())
    names = {op for w in data["workloads"].values() for op in w["calls"] if op.startswith("aten.")}
    table = {op.aten for op in OPS}
    missing = []
    for full in sorted(names):
        name = full[len("aten."):]
        name = name[: -len(".default")] if name.endswith(".default") else name
        if name not in table and name not in _SHIM_KERNELS and not _is_composite(name):
            missing.append(name)
    assert missing == []


def test_split_operator_libraries_are_found_and_used_like_newer_cann():
    """Newer CANN releases ship the operators as libopapi_math.so, libopapi_nn.so,
    libopapi_transformer.so, ... instead of libopapi.so; the emulator's split layout has no
    libopapi.so at all, and every operator the table uses must still be found."""
    from ascend_emulator.build import split_home
    home = split_home(emulator_home())
    lib64 = Path(home) / "lib64"
    assert not (lib64 / "libopapi.so").exists() and (lib64 / "libopapi_nn.so").exists()
    r = _run_probe_subprocess({"ASCEND_HOME_PATH": str(home)})
    assert r["available"], r["reason"]
    assert r["details"]["missing_aclnn_functions"] == []
    assert sorted(Path(p).name for p in r["details"]["operator_libraries"]) == [
        "libopapi_math.so", "libopapi_nn.so", "libopapi_transformer.so"]


def test_split_operator_libraries_run_ops_from_each_library():
    """An op from each split library runs natively (math: add, nn: softmax, transformer: fused attention)."""
    from ascend_emulator.build import split_home
    code = ("import torch, deeplink\n"
            "from deeplink.backends.ascend import AscendBackend\n"
            "try:\n"
            "    rec = deeplink._registry.get('ascend')\n"
            "except ValueError:\n"
            "    rec = deeplink.register_backend(AscendBackend())\n"
            "assert rec.available, rec.reason\n"
            "deeplink.use('ascend'); deeplink.set_fallback_mode('error')\n"
            "x = torch.randn(2, 4, 8, 16)\n"
            "d = x.to('deeplink')\n"
            "torch.testing.assert_close((d + d).cpu(), x + x)\n"
            "torch.testing.assert_close(torch.softmax(d, -1).cpu(), torch.softmax(x, -1))\n"
            "a = torch.nn.functional.scaled_dot_product_attention(d, d, d).cpu()\n"
            "torch.testing.assert_close(a, torch.nn.functional.scaled_dot_product_attention(x, x, x), rtol=1e-4, atol=1e-5)\n"
            "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in CANN_VARS and k != "LD_LIBRARY_PATH"}
    env["ASCEND_HOME_PATH"] = str(split_home(emulator_home()))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr

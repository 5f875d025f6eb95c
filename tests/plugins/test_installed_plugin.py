"""A plugin made by `deeplink new-backend`, pip-installed into a fresh virtualenv next to two broken
plugins, used from a new process exactly as a user would."""
import json
import re

import pytest

from .plugin_env import BROKEN_ABI, BROKEN_IMPORT, GENERATED

PROGRAM = r"""
import json, warnings
import torch, deeplink

res = {"backends": {b["name"]: {"available": b["available"], "reason": b["reason"], "source": b["source"]}
                    for b in deeplink.list_backends()}}
deeplink.use("genaccel")
res["current"] = deeplink.current_backend()

# x + y on the deeplink device, through the C kernel
x, y = torch.randn(3, 4), torch.randn(4)
dx, dy = x.to("deeplink"), y.to("deeplink")
res["x_plus_y"] = torch.equal((dx + dy).cpu(), x + y)
res["owner"] = deeplink.tensor_backend(dx + dy)

# the C kernel against torch: dtypes, broadcasting both ways, strided views, alpha, scalars, 0-d, empty
cases = []
g = torch.Generator().manual_seed(0)
for dtype in (torch.float32, torch.float64):
    a = torch.randn(5, 6, generator=g, dtype=dtype)
    b = torch.randn(6, 5, generator=g, dtype=dtype)
    c = torch.randn(5, 1, generator=g, dtype=dtype)
    da, db, dc = a.to("deeplink"), b.to("deeplink"), c.to("deeplink")
    pairs = {
        "same": ((da, da.neg()), (a, a.neg())),
        "broadcast": ((dc, da), (c, a)),
        "transposed": ((da, db.t()), (a, b.t())),
        "sliced": ((da[1:, ::2], da[:-1, 1::2]), (a[1:, ::2], a[:-1, 1::2])),
        "scalar": ((da, 2.5), (a, 2.5)),
        "zero_dim": ((da.sum(), da.sum()), (a.sum(), a.sum())),
        "empty": ((da[:0], da[:0]), (a[:0], a[:0])),
    }
    for name, ((p, q), (ep, eq)) in pairs.items():
        for alpha in (1, -0.75):
            got = torch.add(p, q, alpha=alpha).cpu()
            want = torch.add(ep, eq, alpha=alpha)
            ok = got.shape == want.shape and got.dtype == want.dtype and torch.allclose(got, want, rtol=1e-6, atol=1e-6)
            if alpha == 1:
                ok = ok and torch.equal(got, want)  # one rounding, same as ATen: bit-exact
            cases.append([str(dtype), name, alpha, bool(ok)])
res["cases"] = cases
stats = deeplink.op_stats()
res["add_native"] = stats["add.Tensor"]["native"]
res["fallbacks_before_int"] = dict(deeplink.fallback_stats())

# int32: the C kernel answers DL_DTYPE_NOT_SUPPORTED -> the dispatcher falls back to the CPU
deeplink.reset_op_stats()
i = torch.tensor([1, 2, 3], dtype=torch.int32).to("deeplink")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    r = i + i
res["int_result"] = r.cpu().tolist()
res["int_fallbacks"] = deeplink.fallback_stats()
res["int_warning"] = [str(w.message) for w in caught if "deeplink" in str(w.message)]
deeplink.set_fallback_mode("error")
try:
    i + i
    res["error_mode"] = "no error"
except NotImplementedError as e:
    res["error_mode"] = str(e)
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def result(plugin_venv):
    return plugin_venv.run_json(PROGRAM)


def test_generated_plugin_is_listed_and_runs_x_plus_y(result):
    rec = result["backends"][GENERATED]
    assert rec["available"], rec
    assert rec["source"] == f"entry point {GENERATED}.backend:GenaccelBackend"
    assert result["current"] == GENERATED
    assert result["x_plus_y"] is True and result["owner"] == GENERATED


def test_c_kernel_computes_what_torch_computes(result):
    failed = [c for c in result["cases"] if not c[3]]
    assert not failed, failed
    assert len(result["cases"]) == 28
    assert result["add_native"] >= 28  # every case ran the C kernel, none fell back
    assert "add.Tensor" not in result["fallbacks_before_int"]


def test_dtype_not_supported_in_c_falls_back_and_is_counted(result):
    assert result["int_result"] == [2, 4, 6]
    assert result["int_fallbacks"] == {"add.Tensor": 1}
    assert len(result["int_warning"]) == 1 and "add.Tensor" in result["int_warning"][0]
    for part in ("add.Tensor", "Int", "[3]", f"'{GENERATED}'"):
        assert part in result["error_mode"], (part, result["error_mode"])


def test_broken_plugins_are_listed_with_their_error_and_others_load(result):
    backends = result["backends"]
    bad = backends["broken_import"]
    assert not bad["available"]
    assert "ImportError" in bad["reason"] and "libvendor_runtime.so.3" in bad["reason"]
    assert bad["source"] == f"entry point {BROKEN_IMPORT}:Backend"
    old = backends["broken_abi"]
    assert not old["available"] and "ABI 999" in old["reason"], old
    assert old["source"] == f"entry point {BROKEN_ABI}:OldBackend"
    assert backends["cpu"]["available"] and backends[GENERATED]["available"]


def test_import_order_plugin_before_deeplink(plugin_venv):
    # The plugin package imports deeplink first, so importing it before deeplink must not leave a
    # half-imported module behind for the entry point.
    out = plugin_venv.run_json("""
        import json, genaccel, torch, deeplink
        deeplink.use("genaccel")
        r = (torch.ones(2, device="deeplink") + torch.ones(2, device="deeplink")).cpu().tolist()
        print(json.dumps({"r": r, "reason": {b["name"]: b["reason"] for b in deeplink.list_backends()}["genaccel"]}))
    """)
    assert out == {"r": [2.0, 2.0], "reason": ""}


def test_generated_plugins_own_tests_pass(plugin_venv):
    proc = plugin_venv.run("import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
                           "'-W', 'ignore::UserWarning', sys.argv[1]]))", str(plugin_venv.plugin_dir / "tests"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    own = (plugin_venv.plugin_dir / "tests" / f"test_{GENERATED}.py").read_text().count("\ndef test_")
    assert int(re.search(r"(\d+) passed", proc.stdout).group(1)) >= own  # its own tests, and the contract suite's


def test_deeplink_info_lists_the_plugin(plugin_venv):
    probe = plugin_venv.run("import deeplink.cli as c; print(hasattr(c, 'main'))")
    if probe.returncode != 0 or probe.stdout.strip() != "True":
        pytest.skip("deeplink.cli (the `deeplink` command) is not in this checkout yet")
    proc = plugin_venv.run("import sys; from deeplink.cli import main; sys.exit(main(['info', '--json']))")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout)
    rows = info if isinstance(info, list) else info.get("backends", info)
    names = {r["name"] for r in rows} if isinstance(rows, list) else set(rows)
    assert {GENERATED, "broken_import", "broken_abi", "cpu"} <= names

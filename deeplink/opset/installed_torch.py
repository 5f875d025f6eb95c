"""Facts only the installed torch can give, asked in a child process.

- the aten schemas torch registers (for the overloads torchgen `autogen:`s, whose schema the yaml
  does not spell out);
- OpInfo's CUDA dtypes (`op.supported_dtypes("cuda")`, i.e. `dtypesIfCUDA`, and the backward
  ones) from `torch.testing._internal.common_methods_invocations` (`op_db` and the `foreach_*_op_db`
  lists). These are static declarations in the test suite, so a CPU-only build answers them too.

Why a child process: importing torch's internal test modules costs ~1.5 s and has import-time side
effects meant for test runs (command-line parsing, global flags) that do not belong in a CLI or a
user's program. The answer is cached on disk with the rest of the opset (deeplink/opset/cache.py).
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

# Runs with `python -c`; drop sys.path[0] (the working directory) so nothing there shadows a module.
_CHILD = r"""
import sys
del sys.path[0]
import json, torch
out = {"torch_version": torch.__version__, "aten_schemas": {}, "opinfos": [], "opinfo_error": None}
for s in torch._C._jit_get_all_schemas():
    text = str(s)
    if text.startswith("aten::"):
        name = s.name[len("aten::"):] + ("." + s.overload_name if s.overload_name else "")
        out["aten_schemas"][name] = text[len("aten::"):]
try:
    import torch.testing._internal.common_methods_invocations as cmi
    dbs = [cmi.op_db] + [getattr(cmi, n) for n in dir(cmi) if n.startswith("foreach_") and n.endswith("_op_db")]
    names = lambda ds: sorted(str(d).replace("torch.", "") for d in ds)
    for db in dbs:
        for op in db:
            out["opinfos"].append({
                "name": op.name, "variant": op.variant_test_name, "aten_name": op.aten_name,
                "dtypes": names(op.supported_dtypes("cuda")),
                "backward_dtypes": names(op.supported_backward_dtypes("cuda")),
            })
except Exception as e:
    out["opinfo_error"] = f"{type(e).__name__}: {e}"
sys.stdout.write(json.dumps(out))
"""


def installed_torch_version() -> str:
    """torch.__version__ of the installed torch, read from torch/version.py without importing torch."""
    spec = importlib.util.find_spec("torch")
    for location in (spec.submodule_search_locations or []) if spec else []:
        try:
            with open(f"{location}/version.py", encoding="utf-8") as f:
                match = re.search(r"^__version__\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
        except OSError:
            continue
        if match:
            return match.group(1)
    try:
        from importlib.metadata import version
        return version("torch")
    except Exception:
        return "unknown"


@dataclass
class TorchFacts:
    torch_version: str = "unknown"
    aten_schemas: dict[str, str] = field(default_factory=dict)   # "add.Tensor" -> schema text
    opinfos: list[dict] = field(default_factory=list)   # name, variant, aten_name, dtypes, backward_dtypes
    error: str | None = None             # the query itself failed: nothing is known (maybe transient)
    opinfo_error: str | None = None      # torch answered, but its OpInfo database would not import


def query_installed_torch(python: str | None = None, timeout_s: float = 300.0) -> TorchFacts:
    """Ask `python` (default: this interpreter) for its torch's schemas and OpInfo CUDA dtypes."""
    cmd = [python or sys.executable, "-c", _CHILD]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as e:
        return TorchFacts(error=f"could not query the installed torch ({cmd[0]}): {e}")
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return TorchFacts(error=f"querying the installed torch failed (exit {done.returncode}): "
                                + " | ".join(tail))
    raw = json.loads(done.stdout)
    return TorchFacts(raw["torch_version"], raw["aten_schemas"], raw["opinfos"], None, raw["opinfo_error"])

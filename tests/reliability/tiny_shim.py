"""The build cache of deeplink/_build.py, exercised on a tiny stand-in for csrc/ (two C++ files
that make a Python module named like the shim) so that a build takes seconds, not minutes.

    python tiny_shim.py CACHE_ROOT CSRC_DIR      loads (building if needed) and prints "LOADED <path>"

The child loads deeplink/_build.py without running deeplink/__init__.py (which would load the real
shim), then points it at CSRC_DIR and CACHE_ROOT: everything else is the real code path.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

MODULE = """
#include <Python.h>
#include "tiny.h"
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "deeplink_C", nullptr, -1, nullptr};
PyMODINIT_FUNC PyInit_deeplink_C(void) {
  PyObject* m = PyModule_Create(&def);
  if (m) PyModule_AddIntConstant(m, "answer", TINY_ANSWER + tiny_other());
  return m;
}
"""
OTHER = """
#include "tiny.h"
int tiny_other() { return %d; }
"""


def write_csrc(root: Path, other: int = 0) -> Path:
    """A folder shaped like csrc/ whose build is a module with `answer == 42 + other`. Files whose
    content does not change are not rewritten (as an editor leaves them)."""
    files = {"include/deeplink/runtime.h": "/* stand-in */\n", "include/deeplink/dlpack_abi.h": "/* stand-in */\n",
             "shim/tiny.h": "#define TINY_ANSWER 42\nint tiny_other();\n",
             "shim/module.cpp": MODULE, "shim/other.cpp": OTHER % other}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return root


def run(cache: Path, csrc: Path, env: dict | None = None, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, __file__, str(cache), str(csrc)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})), **popen)


def start(cache: Path, csrc: Path, env: dict | None = None) -> subprocess.Popen:
    """The same, not waited for (its own process group, for killing it with its compiler)."""
    return subprocess.Popen([sys.executable, __file__, str(cache), str(csrc)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})),
                            start_new_session=True)


def _standalone_build_module():
    package = importlib.util.find_spec("deeplink").submodule_search_locations[0]
    stub = types.ModuleType("deeplink")
    stub.__path__ = [package]
    sys.modules["deeplink"] = stub
    import deeplink._build as build
    return build


def main() -> int:
    cache, csrc = Path(sys.argv[1]), Path(sys.argv[2])
    build = _standalone_build_module()
    build.csrc_dir = lambda: csrc
    build.shim_root = lambda: cache
    try:
        module = build.load()
    except build.ShimBuildError as e:
        print(f"ShimBuildError: {e}", file=sys.stderr)
        return 3
    print("LOADED", module.__file__, module.answer, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

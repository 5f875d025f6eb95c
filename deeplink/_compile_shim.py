"""Compile the shim in a child process: `python _compile_shim.py SPEC_JSON` (run by path, so that
importing it does not import the deeplink package, whose import needs the shim).

The child runs torch's cpp_extension with ninja (verbose, so the parent can show progress per
source file) and then imports the result, so a build that links but does not load is never
published. Its exit status is the verdict; the parent keeps its output as the build log.
"""
import importlib
import json
import sys


def main() -> int:
    spec = json.loads(sys.argv[1])
    for name in spec["preimport"]:  # modules whose pybind types the extension uses
        importlib.import_module(name)
    from torch.utils import cpp_extension
    cpp_extension.load(name=spec["name"], sources=spec["sources"], extra_include_paths=spec["include_dirs"],
                       extra_cflags=spec["cflags"], build_directory=spec["build_directory"], is_python_module=True,
                       verbose=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

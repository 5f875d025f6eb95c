import os
import sys
from pathlib import Path

import pytest

# Fixed before deeplink is imported anywhere in the test session.
os.environ.setdefault("DEEPLINK_FALLBACK", "warn")

# Test aids that are not part of the shipped package (the Ascend emulator) import from tests/.
TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


@pytest.fixture(scope="session")
def test_kernels(tmp_path_factory):
    """Path of tests/plugins/ckernels_test.c (C kernels for CKernel tests) compiled into a shared library."""
    from deeplink.ckernel import build_library
    out = tmp_path_factory.mktemp("ckernels") / "libckernels_test.so"
    return build_library(Path(TESTS) / "plugins" / "ckernels_test.c", out, ["-Wall", "-Wextra", "-Werror", "-lm"])


# The backend contract suite's fixtures (tests/contract/ runs it on every in-tree backend).
pytest_plugins = ["deeplink.contract.plugin"]

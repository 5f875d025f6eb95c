import os
import sys
from pathlib import Path

# Fixed before deeplink is imported anywhere in the test session.
os.environ.setdefault("DEEPLINK_FALLBACK", "warn")

# Test aids that are not part of the shipped package (the Ascend emulator) import from tests/.
TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

# The backend contract suite's fixtures (tests/contract/ runs it on every in-tree backend).
pytest_plugins = ["deeplink.contract.plugin"]

"""Every ```python block of every page under docs/ runs, in a fresh interpreter per page (blocks of
one page share state, top to bottom), so the docs cannot drift from the code. A fragment that is
not meant to run (it uses names the reader supplies) takes a plain ``` fence instead.
docs/plugins.md is run by tests/plugins/test_docs.py, which also compiles its C blocks."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_ELSEWHERE = {"docs/plugins.md"}
#: Pages whose examples need an optional dependency (an extra of docs/install.md).
NEEDS = {"docs/backends/onnxruntime.md": "onnxruntime"}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")
               if python_blocks(p.read_text()) and str(p.relative_to(ROOT)) not in RUN_ELSEWHERE)


def test_pages_with_examples_are_found():
    assert {"docs/device.md", "docs/api.md", "docs/backends/cpu.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page):
    if page in NEEDS and importlib.util.find_spec(NEEDS[page]) is None:
        pytest.skip(f"{page} needs {NEEDS[page]} (not installed)")
    script = "\n\n".join(python_blocks((ROOT / page).read_text()))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{page} examples failed:\n{proc.stderr[-3000:]}"

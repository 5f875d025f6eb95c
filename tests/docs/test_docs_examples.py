"""Every ```python block of the docs listed here runs, in a fresh interpreter per page (blocks of
one page share state, top to bottom), so the docs cannot drift from the code."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["docs/device.md"]  # docs/plugins.md is run by tests/plugins


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page):
    blocks = python_blocks((ROOT / page).read_text())
    assert blocks, f"{page} has no python examples"
    script = "\n\n".join(blocks)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{page} examples failed:\n{proc.stderr[-3000:]}"

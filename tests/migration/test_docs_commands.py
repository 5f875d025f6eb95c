"""The shell examples of docs/migration.md and docs/debugging.md run (each `deeplink ...` command,
from a scratch folder that sees the repo's tests/), and the autocompare output quoted in
docs/debugging.md is what the command prints. Slow: they train small models in fresh processes;
`pytest -m slow tests/migration/test_docs_commands.py` runs them."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("docs/migration.md", "docs/debugging.md")


def commands(page: str) -> list[str]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", (ROOT / page).read_text(), flags=re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            if "deeplink " in cmd:
                out.append(" ".join(cmd.split()))
    return out


CASES = [(page, cmd) for page in PAGES for cmd in commands(page)]


def test_the_pages_have_commands():
    assert len(commands("docs/migration.md")) >= 3 and len(commands("docs/debugging.md")) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("page,cmd", CASES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(CASES)])
def test_command_runs(page, cmd, tmp_path):
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    if "--cases captured" in cmd:   # replays what the capture example wrote: run that first
        capture = next(c for p, c in CASES if "--capture-dir captured" in c)
        subprocess.run(["bash", "-c", capture], cwd=tmp_path, env=_env(), timeout=600, capture_output=True)
    proc = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    if "--autocompare --report ac.json" in cmd:
        quoted = re.search(r"```\n(deeplink autocompare.*?)```", (ROOT / page).read_text(), flags=re.S).group(1)
        for line in quoted.splitlines()[1:5]:      # first divergence, module, route, dtype and shapes
            assert line in proc.stderr, f"docs quote {line!r}, the command printed:\n{proc.stderr[-3000:]}"


def _env():
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DEEPLINK_FALLBACK": "warn"}

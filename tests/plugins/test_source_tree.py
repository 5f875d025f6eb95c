"""A source checkout used without `pip install` (a GPU machine with no package index runs
`PYTHONPATH=. python ...`) still finds every in-tree backend."""
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from deeplink.registry import IN_TREE_BACKENDS

ROOT = Path(__file__).resolve().parents[2]


def test_in_tree_table_matches_pyproject_entry_points():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["deeplink.backends"]
    assert IN_TREE_BACKENDS == declared


def test_backends_found_without_entry_points():
    code = textwrap.dedent("""
        import importlib.metadata as md
        md.entry_points = lambda **kw: []          # as if deeplink were not pip-installed
        import deeplink
        rows = {b["name"]: b for b in deeplink.list_backends()}
        print(sorted(rows), rows["cpu"]["source"])
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "['ascend', 'cpu', 'cuda', 'onnxruntime']" in out.stdout
    assert "source tree deeplink.backends.cpu:CpuBackend" in out.stdout

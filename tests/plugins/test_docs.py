"""docs/plugins.md runs: its ```c blocks are written to the files they name (first line
`/* file: NAME */`), then its ```python blocks run top to bottom in one fresh interpreter, in a
scratch directory."""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from .plugin_env import clean_env

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(lang):
    text = PAGE.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in _BLOCK.finditer(text) if m.group(1) == lang]


def test_docs_examples_run(tmp_path):
    c_blocks = blocks("c")
    assert c_blocks, "docs/plugins.md lost its C example"
    for _, code in c_blocks:
        name = re.match(r"/\* file: ([\w.]+) \*/", code)
        assert name, f"a ```c block of {PAGE.name} does not start with /* file: NAME */"
        (tmp_path / name.group(1)).write_text(code)
    py_blocks = blocks("python")
    assert len(py_blocks) >= 5
    # Each block is compiled with its line number in the page, so a traceback points into the doc.
    runner = textwrap.dedent("""\
        import json, sys
        scope = {"__name__": "__main__"}
        for line, code in json.load(open(sys.argv[1])):
            exec(compile("\\n" * (line - 1) + code, "docs/plugins.md", "exec"), scope)
        print("all", len(json.load(open(sys.argv[1]))), "blocks ran")
        """)
    import json
    (tmp_path / "blocks.json").write_text(json.dumps(py_blocks))
    proc = subprocess.run([sys.executable, "-c", runner, str(tmp_path / "blocks.json")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=clean_env())
    assert proc.returncode == 0, f"docs/plugins.md examples failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert f"all {len(py_blocks)} blocks ran" in proc.stdout

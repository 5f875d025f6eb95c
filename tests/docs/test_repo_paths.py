"""Every repository path named in the docs, README, scripts and in code comments and docstrings
exists, so a file that moves cannot leave a dangling reference behind (tests/docs/source_scan.py
says what counts as a path and where they are looked for)."""
from source_scan import ROOT, exists, expand_braces, mentions, path_pattern


def test_named_repo_paths_exist():
    dangling = [m for m in mentions() if not exists(m.path)]
    assert not dangling, "paths that do not exist in the repository (fix the reference, or the path):\n" + \
        "\n".join(map(str, dangling))


def test_the_scan_sees_paths_in_every_kind_of_file():
    """Guards the scanner itself: it must find known references in a doc page, a Python
    docstring, a C++ comment and a shell script, or the check above would pass vacuously."""
    by_file = {}
    for m in mentions():
        by_file.setdefault(m.file, set()).add(m.path)
    assert "csrc/shim/router.cpp" in by_file["docs/architecture.md"]
    assert any(p.startswith("docs/backends/") for p in by_file["backends/cpu/__init__.py"])
    assert any(p.startswith("deeplink/") for p in by_file["csrc/shim/router.h"])
    assert "tests/backends/test_cuda.py" in by_file["scripts/verify_cuda.sh"]


def test_path_syntax():
    pattern = path_pattern({"backends", "csrc", "docs"})
    text = "see `backends/<name>/kernels.py`, csrc/shim/runtime_{ctable,aten}.cpp. Not x/backends/a " \
           "nor ~/backends/b; docs/backends/cpu.md."
    found = [m.group(1).rstrip(".-") for m in pattern.finditer(text)]
    assert found == ["backends/<name>/kernels.py", "csrc/shim/runtime_{ctable,aten}.cpp", "docs/backends/cpu.md"]
    assert expand_braces("a/{b,c}.{h,cpp}") == ["a/b.h", "a/b.cpp", "a/c.h", "a/c.cpp"]
    assert exists("backends/<name>/backend.py") and exists("csrc/shim/runtime_{ctable,aten}.cpp")
    assert not exists("csrc/shim/runtime_{ctable,nonexistent}.cpp")
    assert not exists("backends/<name>/no_such_file.py")
    assert (ROOT / "docs").is_dir()

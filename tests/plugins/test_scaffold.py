"""`deeplink new-backend`: name rules, refusing to overwrite, what the generated package holds."""
import argparse
import filecmp
import py_compile

import pytest

from deeplink.scaffold import InvalidBackendName, add_new_backend_parser, generate, validate_name
from deeplink.scaffold.generate import HEADERS, TargetNotEmpty, headers_dir


@pytest.mark.parametrize("name", ["myaccel", "my_accel2", "npu"])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name, why", [
    ("", "empty"),
    ("2fast", "not a Python identifier"),
    ("my-accel", "not a Python identifier"),
    ("my accel", "not a Python identifier"),
    ("naïve", "not a Python identifier"),
    ("class", "keyword"),
    ("MyAccel", "lowercase"),
    ("_hidden", "lowercase letters"),
    ("json", "already uses"),
    ("torch", "already uses"),
    ("cpu", "already installed"),
])
def test_bad_names_say_why(name, why):
    with pytest.raises(InvalidBackendName, match=why):
        validate_name(name)


def test_generated_package(tmp_path):
    files = generate("myaccel", tmp_path / "pkg")
    rel = {f.relative_to(tmp_path / "pkg").as_posix() for f in files}
    assert {"pyproject.toml", "setup.py", "README.md", "tests/test_myaccel.py", "src/myaccel/__init__.py",
            "src/myaccel/backend.py", "src/myaccel/runtime.py", "src/myaccel/kernels.py", "src/myaccel/collectives.py",
            "src/myaccel/ops/kernels.c"} <= rel
    for f in files:
        text = f.read_text()
        assert "{{" not in text and "__name__/" not in f.as_posix(), f
        if f.suffix == ".py":
            py_compile.compile(str(f), doraise=True)
    pyproject = (tmp_path / "pkg" / "pyproject.toml").read_text()
    assert '[project.entry-points."deeplink.backends"]\nmyaccel = "myaccel.backend:MyaccelBackend"' in pyproject
    assert "class MyaccelBackend(Backend):" in (tmp_path / "pkg/src/myaccel/backend.py").read_text()
    assert "myaccel_add" in (tmp_path / "pkg/src/myaccel/ops/kernels.c").read_text()
    for h in HEADERS:  # the plugin compiles against this deeplink's headers, byte for byte
        assert filecmp.cmp(tmp_path / "pkg/src/myaccel/ops/include/deeplink" / h, headers_dir() / h, shallow=False)
    # its C compiles cleanly with every warning on, and the library loads (ABI check) and exports its kernel
    from deeplink.ckernel import build_library, load_library
    lib = build_library(tmp_path / "pkg/src/myaccel/ops/kernels.c", tmp_path / "libmyaccel.so",
                        ["-Wall", "-Wextra", "-Werror", "-pedantic"])
    assert load_library(lib).address("myaccel_add")


def test_refuses_non_empty_dir_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TargetNotEmpty, match="--force"):
        generate("myaccel", tmp_path)
    generate("myaccel", tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # other files are left alone
    assert (tmp_path / "src/myaccel/kernels.py").exists()
    generate("myaccel", tmp_path / "new" / "dir")  # missing parents are created


def _cli(argv):
    parser = argparse.ArgumentParser(prog="deeplink")
    add_new_backend_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_command(tmp_path, capsys):
    assert _cli(["new-backend", "myaccel", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "pip install --no-build-isolation" in out and str(tmp_path / "p") in out
    assert _cli(["new-backend", "myaccel", "--out", str(tmp_path / "p")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert _cli(["new-backend", "myaccel", "--out", str(tmp_path / "p"), "--force"]) == 0
    assert _cli(["new-backend", "My-Accel", "--out", str(tmp_path / "q")]) == 2
    assert "not a Python identifier" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_wired_into_the_deeplink_command(tmp_path, capsys):
    cli = pytest.importorskip("deeplink.cli")
    assert cli.main(["new-backend", "viacli", "--out", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v/src/viacli/backend.py").exists()


def test_templates_and_headers_ship_in_the_deeplink_wheel(tmp_path):
    # An editable install reads template/ from the source tree; a regular install only has what
    # setup.py's package_data puts in the wheel.
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    from deeplink.scaffold.generate import TEMPLATE_DIR
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", str(root), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = set(zipfile.ZipFile(next(tmp_path.glob("deeplink-*.whl"))).namelist())
    wanted = {"deeplink/scaffold/template/" + p.relative_to(TEMPLATE_DIR).as_posix() for p in TEMPLATE_DIR.rglob("*.tmpl")}
    wanted |= {f"deeplink/csrc/include/deeplink/{h}" for h in HEADERS}
    missing = sorted(wanted - names)
    assert not missing, f"not in the wheel (setup.py package_data needs 'scaffold/template/**/*'): {missing}"


def test_unbuilt_plugin_says_why_it_is_unavailable(tmp_path):
    # Sources on the path but never pip-installed: no compiled C library, and probe() says so.
    import os
    import subprocess
    import sys
    generate("unbuilt", tmp_path / "pkg")
    code = ("from unbuilt.backend import UnbuiltBackend; a = UnbuiltBackend().probe(); "
            "print(a.available, a.reason)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "pkg" / "src")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("False") and "was not built" in proc.stdout and "--no-build-isolation" in proc.stdout

"""The command line: the parser plugs into another argparse CLI, and `python -m` works."""
import argparse
import subprocess
import sys

from deeplink.conformance import add_conformance_parser


def test_parser_plugs_into_a_host_cli():
    parser = argparse.ArgumentParser(prog="deeplink")
    sub = parser.add_subparsers(dest="command")
    add_conformance_parser(sub)
    args = parser.parse_args(["conformance", "run", "--backend", "cpu", "--dtypes", "float32,bfloat16",
                              "--ops", "^add$", "--out", "x", "--jobs", "3"])
    assert args.backend == "cpu" and args.jobs == 3 and callable(args.func)
    args = parser.parse_args(["conformance", "diff", "a.json", "b.json"])
    assert args.before == "a.json" and args.conformance_fn.__name__ == "_cmd_diff"


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "deeplink.conformance", "run", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--backend" in done.stdout

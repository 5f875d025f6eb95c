"""`make test-pytorch`: run tests/pytorch (PyTorch's device-generic machinery, instantiated for the
deeplink and the cpu device in one run), then print the pass counts per device and every test that
passes on cpu but not on deeplink, with the reason when it is a known limitation
(tests/pytorch/known_limitations.py). Exit status 1 when such a test is not listed there.

    python scripts/test_pytorch.py [-n 2] [--junit PATH] [extra pytest args]
    python scripts/test_pytorch.py --from-junit PATH      # summarise an earlier run again
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("cpu", "deeplink")
# the device suffix instantiate_device_type_tests appends, then an optional dtype suffix (a dtype's
# name, so that a test named "..._like_cpu" keeps its own "_cpu")
_SUFFIX = re.compile(r"_(cpu|deeplink)(_(?:bool|u?int[0-9]+|b?float[0-9]+|complex[0-9]+|half|chalf))?$")


def _outcome(case) -> str:
    for tag in ("failure", "error"):
        if case.find(tag) is not None:
            return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def _message(case) -> str:
    for tag in ("failure", "error"):
        node = case.find(tag)
        if node is not None:
            return (node.get("message") or "").splitlines()[0][:160] if node.get("message") else ""
    return ""


def read_results(junit: Path) -> dict:
    """{(device, device-free test id): (outcome, message)}."""
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        m = _SUFFIX.search(name)
        if not m:
            continue
        generic = f"{case.get('classname', '').rsplit('.', 1)[0]}::{name[:m.start()]}{m.group(2) or ''}"
        results[(m.group(1), generic)] = (_outcome(case), _message(case))
    return results


def summarise(results: dict, known: list) -> int:
    counts = {d: collections.Counter() for d in DEVICES}
    for (device, _), (outcome, _) in results.items():
        counts[device][outcome] += 1
    print(f"\n{'device':<10}{'passed':>8}{'failed':>8}{'skipped':>9}{'total':>8}")
    for d in DEVICES:
        c = counts[d]
        print(f"{d:<10}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}{sum(c.values()):>8}")
    gaps = sorted(name for (device, name), (outcome, _) in results.items()
                  if device == "cpu" and outcome == "passed" and results.get(("deeplink", name), ("missing",))[0] != "passed")
    listed, unlisted = [], []
    for name in gaps:
        reason = next((k for k in known if re.search(k.pattern, name)), None)
        (listed if reason else unlisted).append((name, reason))
    print(f"\npassing on cpu, not on deeplink: {len(gaps)} ({len(listed)} known limitations, {len(unlisted)} not listed)")
    for name, k in listed:
        print(f"  known  {name}\n         {k.reason} ({k.upstream})")
    for name, _ in unlisted:
        print(f"  NEW    {name}\n         {results.get(('deeplink', name), ('', ''))[1]}")
    return 1 if unlisted else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", default="2", help="pytest-xdist workers (default 2)")
    parser.add_argument("--junit", type=Path, help="keep pytest's JUnit XML here")
    parser.add_argument("--from-junit", type=Path, help="do not run: summarise this JUnit XML")
    args, extra = parser.parse_known_args(argv)
    sys.path.insert(0, str(ROOT / "tests" / "pytorch"))
    from known_limitations import KNOWN
    if args.from_junit:
        return summarise(read_results(args.from_junit), KNOWN)
    with tempfile.TemporaryDirectory() as tmp:
        junit = args.junit or Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "pytorch"), "-m", "slow or not slow", "-q",
               "-p", "no:cacheprovider", f"--junitxml={junit}", "-n", args.n, *extra]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT)
        if not junit.exists():
            print("pytest produced no results", file=sys.stderr)
            return 2
        return summarise(read_results(junit), KNOWN)


if __name__ == "__main__":
    sys.exit(main())

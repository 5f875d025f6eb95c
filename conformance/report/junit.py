"""`conformance run --junit FILE`: the cases as JUnit XML, the format CI systems read.

One <testsuite> per (source, kind, dtype), e.g. `opinfo.fwd.float32`; one <testcase> per case with
classname = the op and name = the case id, so a CI page groups failures by op. mismatch and
not_implemented are <failure>; error, crash and timeout are <error> (the kernel raised or the worker
died); skip is <skipped> with its reason; fallback is <skipped> too, saying which op ran on the CPU
(it matched, but it is not native, so it is never reported as a passing test).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from ..statuses import CRASH, ERROR, FALLBACK, MISMATCH, NOT_IMPLEMENTED, SKIP, TIMEOUT
from .repro import repro_command, repro_prefix

FAILURE, ERRORS, SKIPPED = {MISMATCH, NOT_IMPLEMENTED}, {ERROR, CRASH, TIMEOUT}, {SKIP, FALLBACK}


def _suite_name(case_id: str) -> str:
    return ".".join(case_id.split("/")[:3])


def junit_tree(report: dict) -> ET.ElementTree:
    backend = str(report["backend"].get("name"))
    root = ET.Element("testsuites", name=f"deeplink conformance {backend}")
    suites: dict[str, list[dict]] = defaultdict(list)
    for sample in report["samples"]:
        suites[_suite_name(sample["id"])].append(sample)
    totals = defaultdict(int)
    prefix = repro_prefix(report)
    for name, samples in suites.items():
        counts = {"tests": len(samples),
                  "failures": sum(s["status"] in FAILURE for s in samples),
                  "errors": sum(s["status"] in ERRORS for s in samples),
                  "skipped": sum(s["status"] in SKIPPED for s in samples)}
        seconds = sum(float(s.get("seconds") or 0.0) for s in samples)
        suite = ET.SubElement(root, "testsuite", name=f"{backend}.{name}", time=f"{seconds:.3f}",
                              **{k: str(v) for k, v in counts.items()})
        for k, v in counts.items():
            totals[k] += v
        for s in samples:
            case = ET.SubElement(suite, "testcase", classname=str(s["op"]), name=s["id"],
                                 time=f"{float(s.get('seconds') or 0.0):.6f}")
            status, message = s["status"], str(s.get("message") or s["status"])
            blamed = ", ".join(f"{op}: {v}" for op, v in ((s.get("blame") or {}).get("ops") or {}).items())
            detail = "\n".join(x for x in (message, f"blamed: {blamed}" if blamed else "",
                                           f"repro: {repro_command(report, s['id'], prefix)}")
                               if x)
            if status in FAILURE:
                ET.SubElement(case, "failure", type=status, message=message[:500]).text = detail
            elif status in ERRORS:
                ET.SubElement(case, "error", type=status, message=message[:500]).text = detail
            elif status in SKIPPED:
                ET.SubElement(case, "skipped", message=f"{status}: {message}"[:500])
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("tests", str(len(report["samples"])))
    return ET.ElementTree(root)


def write_junit(report: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(report)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path

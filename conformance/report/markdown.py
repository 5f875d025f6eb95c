"""report.md: the headline numbers and the failures, for people and code review."""
from __future__ import annotations

from ..statuses import ALL, PASS
from .repro import repro_prefix

MAX_FAILURES = 200


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _coverage_table(summary: dict, dtypes: list[str]) -> list[str]:
    cov = summary["op_coverage"]
    if not cov:
        return ["(no tier data)", ""]
    from ..rollup import headline  # noqa: PLC0415

    head = "| tier | ops | all dtypes | " + " | ".join(dtypes) + " |"
    lines = [head, "|" + "---|" * (3 + len(dtypes))]
    for tier, c in cov.items():
        a = c["all_dtypes"]
        cells = [headline(c[d]) for d in dtypes]
        lines.append(f"| {tier} | {a['ops']} | **{headline(a)}** | " + " | ".join(cells) + " |")
    return lines + ["", "Each cell: passing / ops of the tier, then pass / tested / untested. \"All dtypes\" "
                    "counts an op only when it passed in every dtype; an op untested in one dtype is untested "
                    "there.", ""]


def memory_lines(memory: dict) -> list[str]:
    """Workers' memory (conformance/pool.py): what was measured, flagged cases, recycled workers."""
    if not memory.get("measured_cases"):
        return []
    flagged, events = memory.get("flagged_cases", []), memory.get("worker_events", [])
    out = ["## Memory", "",
           f"Worker memory measured around {memory['measured_cases']} cases; the largest growth in one case "
           f"was {memory.get('max_case_growth_mb')} MiB. Cases growing their worker by more than "
           f"{memory.get('flag_above_mb'):g} MiB: {len(flagged)}. Workers whose memory doubled: {len(events)}.", ""]
    out += [f"- flagged: `{cid}`" for cid in flagged[:50]]
    if len(flagged) > 50:
        out.append(f"- ... {len(flagged) - 50} more in report.json (summary.memory.flagged_cases)")
    out += [f"- {e['message']}" for e in events]
    return out + [""]


def render_markdown(report: dict) -> str:
    s = report["summary"]
    dtypes = report["options"]["dtypes"]
    b = report["backend"]
    out = [f"# Conformance report: backend `{b.get('name')}`", "",
           f"**Verified on:** {b.get('verified_on') or 'not stated'}", ""]
    out.append(f"Generated {report['generated_at']} with torch {report['environment']['torch']}"
               f" on {report['environment']['platform']}. Schema version {report['schema_version']}.")
    out.append("")
    for note in s.get("notes", []):
        out.append(f"> {note}")
    if s.get("notes"):
        out.append("")
    out += ["## Op coverage", "",
            "An op is covered when every sample that reached it passed natively (no CPU fallback).", ""]
    out += _coverage_table(s, dtypes)
    if s["workload_coverage"]:
        out += ["## Workload coverage", "",
                "| workload | dtypes checked | calls | FLOPs | not covered (calls) |", "|---|---|---|---|---|"]
        for name, w in s["workload_coverage"].items():
            unc = ", ".join(f"`{u['op']}` {u['status']} ({u['calls']})" for u in w["uncovered"][:6])
            more = f" +{len(w['uncovered']) - 6} more" if len(w["uncovered"]) > 6 else ""
            out.append(f"| {name} | {', '.join(w['dtypes_checked'])} | {pct(w['calls_fraction'])} "
                       f"({w['calls_covered']}/{w['calls_total']}) | {pct(w['flops_fraction'])} | {unc}{more} |")
        out.append("")
    c = s["cases"]
    out += ["## Cases", "", "| status | cases |", "|---|---|"]
    out += [f"| {st} | {n} |" for st, n in c["by_status"].items()]
    out += ["", "By source: " + "; ".join(f"{k}: " + ", ".join(f"{st} {n}" for st, n in v.items())
                                         for k, v in c["by_source"].items()),
            "", "By reference: " + "; ".join(f"{k}: " + ", ".join(f"{st} {n}" for st, n in v.items())
                                            for k, v in c["by_reference"].items()), ""]
    t = s["timings"]
    out += [f"Timings: load {t.get('load_s')} s, run {t.get('run_s')} s, "
            f"{t.get('cases_run_now')} cases run now, {t.get('cases_resumed')} resumed.", ""]

    out += memory_lines(s.get("memory") or {})

    failing_ops = [o for o in report["ops"] if o["status"] not in (PASS, "untested", "skip")]
    out += [f"## Ops that do not pass ({len(failing_ops)})", "",
            "| op | tiers | status | per dtype | max rel err |", "|---|---|---|---|---|"]
    for o in failing_ops[:MAX_FAILURES]:
        per = ", ".join(f"{d}: {v['status']}" for d, v in o["dtypes"].items())
        rel = max((v.get("max_rel") or 0.0) for v in o["dtypes"].values()) if o["dtypes"] else 0.0
        out.append(f"| `{o['op']}` | {', '.join(o['tiers'])} | {o['status']} | {per} | {rel:.2g} |")
    if len(failing_ops) > MAX_FAILURES:
        out.append(f"| ... {len(failing_ops) - MAX_FAILURES} more in report.json | | | | |")
    untested = [o["op"] for o in report["ops"] if o["status"] in ("untested", "skip") and o["tiers"]]
    out += ["", f"## Tier ops without a verdict ({len(untested)})", ""]
    out.append(", ".join(f"`{op}`" for op in untested[:400]) + (" ..." if len(untested) > 400 else ""))
    loose = [x for x in report["samples"] if x["status"] not in (PASS, "skip", "missing")
             and not ((x.get("blame") or {}).get("ops"))]
    out += ["", f"## Failures not attributed to an op ({len(loose)})", "",
            "These samples fail, but no single op is to blame: they fail the same way with every op on "
            "ATen CPU (the backend agrees with ATen CPU; CUDA differs), or the exception came from outside "
            "any op. They give no op a verdict.", ""]
    for x in loose[:60]:
        out.append(f"- `{x['id']}` {x['status']}: {(x.get('message') or '')[:200]}")
    failures = [x for x in report["samples"] if x["status"] not in (PASS, "skip")]
    out += ["", f"## Failing samples ({len(failures)})", "",
            f"Rerun one: `{repro_prefix(report)} CASE`. report.html lists all of them, filterable.", "",
            "| case | status | blamed | detail |", "|---|---|---|---|"]
    for x in failures[:MAX_FAILURES]:
        blamed = ", ".join(f"{k}: {v}" for k, v in ((x.get("blame") or {}).get("ops") or {}).items())
        detail = (x.get("message") or "").replace("|", "\\|").replace("\n", " ")[:160]
        out.append(f"| `{x['id']}` | {x['status']} | {blamed or (x.get('blame') or {}).get('method', '')} | {detail} |")
    if len(failures) > MAX_FAILURES:
        out.append(f"| ... {len(failures) - MAX_FAILURES} more in report.html and report.json | | | |")
    tol = report["tolerance"]
    out += ["", "## What \"pass\" meant", "", f"- element rule: {tol['element_rule']}",
            f"- tensor rule: {tol['tensor_rule']}",
            "- defaults: " + ", ".join(f"{d} rtol={v['rtol']:g} atol={v['atol']:g} norm-wise={v['normwise_rtol']:g}"
                                       for d, v in tol["defaults"].items()),
            f"- samples that passed only norm-wise: {tol.get('passed_normwise_only', 0)}"]
    for o in tol["deeplink_overrides"]:
        out.append(f"- override `{o['name']}` ({', '.join(o['kinds'])}; {o['dtypes']}): {o['reason']}")
    for a in tol.get("applied", [])[:40]:
        out.append(f"- applied {a['source']} [{a['dtype']}] rtol={a['rtol']:g} atol={a['atol']:g} "
                   f"norm-wise={a.get('normwise_rtol') or 0:g}: {a['cases']} cases ({', '.join(a['ops'][:6])})")
    out += ["", "## Golden data", ""]
    for g in report["golden"]:
        out.append(f"- `{g['file']}` ({g['kind']}, {g['dtype']}) sha256 `{g['sha256']}`, recorded on "
                   f"{g.get('recorded_on')} with torch {g.get('torch')}")
    out += ["", "Statuses: " + ", ".join(ALL) + ". Full per-sample data: report.json.", ""]
    return "\n".join(out)

"""report.html: one self-contained page (inline CSS, inline SVG, a few lines of inline JS for
filtering the tables). Nothing is fetched: it opens offline and from a CI artifact store."""
from __future__ import annotations

from html import escape

from ..statuses import PASS
from .markdown import pct
from .svg import STATUS_COLORS, error_histogram, stacked_bars, status_grid

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}
h1{font-size:22px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;max-width:100%}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;overflow-wrap:anywhere}
th{background:#f4f4f4} .num{text-align:right} .note{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 10px}
.status{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.kpi{display:inline-block;margin:4px 18px 4px 0} .kpi b{font-size:22px;display:block}
input.filter{margin:6px 0;padding:4px 8px;width:320px} code{font-size:12px} .muted{color:#666}
details{margin:6px 0}
"""

JS = """
document.querySelectorAll('input.filter').forEach(function (box) {
  var table = document.getElementById(box.getAttribute('data-table'));
  box.addEventListener('input', function () {
    var q = box.value.toLowerCase();
    table.querySelectorAll('tbody tr').forEach(function (row) {
      row.style.display = row.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
"""


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#777")
    text_color = "#222" if status in ("untested", "skip", "fallback", "missing") else "#fff"
    return f'<span class="status" style="background:{color};color:{text_color}">{escape(status)}</span>'


def _coverage_section(report: dict) -> str:
    from ..rollup import headline  # noqa: PLC0415

    s = report["summary"]
    dtypes = report["options"]["dtypes"]
    parts = ["<h2>Op coverage by tier</h2>"]
    rows = []
    for tier, c in s["op_coverage"].items():
        a = c["all_dtypes"]
        rows.append((f"{tier} ({a['ops']} ops), all dtypes", a["by_status"], headline(a)))
        for d in dtypes:
            rows.append((f"  {tier} / {d}", c[d]["by_status"], headline(c[d])))
    if rows:
        parts.append(stacked_bars(rows, "Ops per tier and dtype, by status", "tier-coverage"))
    cat_rows = [(name, c["by_status"], f"{c['pass']}/{c['ops']} pass")
                for name, c in sorted(s["category_coverage"].items(), key=lambda kv: -kv[1]["ops"])]
    if cat_rows:
        parts.append("<h2>Coverage by category</h2>")
        parts.append(stacked_bars(cat_rows, "Tier ops per category, by status (all dtypes)", "category-coverage"))
    return "".join(parts)


def _grid_section(report: dict) -> str:
    dtypes = report["options"]["dtypes"]
    by_name = {o["op"]: o for o in report["ops"]}
    parts = ["<h2>Op &times; dtype status</h2>"]
    for tier, info in report["tiers"].items():
        ops = [by_name[n] for n in info["ops"] if n in by_name]
        if not ops:
            continue
        named = len(ops) <= 80
        parts.append(status_grid(ops, dtypes, f"{tier}: {len(ops)} ops", f"status-grid grid-{tier}", named))
    if len(parts) == 1:
        ops = report["ops"][:2000]
        parts.append(status_grid(ops, dtypes, f"ops reached: {len(ops)}", "status-grid", len(ops) <= 80))
    return "".join(parts)


def _error_section(report: dict) -> str:
    values = []
    for x in report["samples"]:
        if not str(x.get("check", "")).startswith("value"):
            continue
        r = x.get("tol_ratio", 0.0)          # absent: bitwise equal (or no elements)
        values.append((r if isinstance(r, (int, float)) else 1e12, x["status"]))
    return ("<h2>Error distribution</h2><p class='muted'>Per value-checked sample: the largest element error "
            "divided by its allowed bound (atol + rtol&middot;|expected|). Below 1 is within tolerance "
            "element-wise; above 1 passes only through the mismatch ratio or the norm-wise rule.</p>"
            + error_histogram(values, "Error / tolerance bound, per sample", "error-histogram"))


def _workload_section(report: dict) -> str:
    w = report["summary"]["workload_coverage"]
    if not w:
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(', '.join(v['dtypes_checked']))}</td>"
        f"<td class='num'>{pct(v['calls_fraction'])} ({v['calls_covered']}/{v['calls_total']})</td>"
        f"<td class='num'>{pct(v['flops_fraction'])}</td><td>"
        + ", ".join(f"<code>{escape(u['op'])}</code> {_badge(u['status'])} ({u['calls']})" for u in v["uncovered"][:8])
        + "</td></tr>" for name, v in w.items())
    return ("<h2>Workload coverage</h2><p class='muted'>Share of one training step's aten calls and FLOPs "
            "in ops that pass natively.</p><table><thead><tr><th>workload</th><th>dtypes checked</th>"
            f"<th>calls</th><th>FLOPs</th><th>not covered (calls)</th></tr></thead><tbody>{rows}</tbody></table>")


def _ops_table(report: dict) -> str:
    rows = []
    for o in report["ops"]:
        if not o["tiers"] and not o["dtypes"]:
            continue
        per = " ".join(f"{escape(d)}:{_badge(v['status'])}" for d, v in o["dtypes"].items())
        rel = max(((v.get("max_rel") or 0.0) for v in o["dtypes"].values()), default=0.0)
        rows.append(f"<tr><td><code>{escape(o['op'])}</code></td><td>{escape(', '.join(o['tiers']))}</td>"
                    f"<td>{escape(o['category'])}</td><td>{_badge(o['status'])}</td><td>{per}</td>"
                    f"<td class='num'>{rel:.2g}</td></tr>")
    return ("<h2>All ops</h2><input class='filter' data-table='ops-table' placeholder='filter ops...'>"
            "<table id='ops-table'><thead><tr><th>op</th><th>tiers</th><th>category</th><th>status</th>"
            f"<th>per dtype</th><th>max rel err</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _failures_table(report: dict) -> str:
    rows = []
    for x in report["samples"]:
        if x["status"] in (PASS, "skip"):
            continue
        blame = x.get("blame") or {}
        blamed = ", ".join(f"{k}: {v}" for k, v in (blame.get("ops") or {}).items()) or blame.get("method", "")
        rows.append(f"<tr><td><code>{escape(x['id'])}</code></td><td>{_badge(x['status'])}</td>"
                    f"<td>{escape(blamed)}</td><td>{escape((x.get('message') or '')[:300])}</td></tr>")
        if len(rows) >= 1000:
            break
    if not rows:
        return "<h2>Failing samples</h2><p>None.</p>"
    return ("<h2>Failing samples</h2><input class='filter' data-table='fail-table' placeholder='filter...'>"
            "<table id='fail-table'><thead><tr><th>case</th><th>status</th><th>blamed op</th><th>detail</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _policy_section(report: dict) -> str:
    tol = report["tolerance"]
    items = [f"<li>element rule: {escape(tol['element_rule'])}</li>",
             f"<li>tensor rule: {escape(tol['tensor_rule'])}</li>"]
    items += [f"<li>{escape(d)}: rtol={v['rtol']:g}, atol={v['atol']:g}, norm-wise={v['normwise_rtol']:g}</li>"
              for d, v in tol["defaults"].items()]
    items += [f"<li>override <b>{escape(o['name'])}</b>: {escape(o['reason'])}</li>" for o in tol["deeplink_overrides"]]
    items.append(f"<li>samples that passed only norm-wise: {tol.get('passed_normwise_only', 0)}</li>")
    applied = "".join(f"<li>{escape(a['source'])} [{escape(a['dtype'])}] rtol={a['rtol']:g} atol={a['atol']:g}: "
                      f"{a['cases']} cases</li>" for a in tol.get("applied", [])[:60])
    golden = "".join(f"<li><code>{escape(g['file'])}</code> ({escape(g['kind'])}, {escape(g['dtype'])}) "
                     f"sha256 <code>{escape(str(g['sha256']))}</code>, {escape(str(g.get('recorded_on')))}, "
                     f"torch {escape(str(g.get('torch')))}</li>" for g in report["golden"])
    return (f"<h2>What \"pass\" meant</h2><ul>{''.join(items)}</ul><details><summary>tolerances applied "
            f"beyond the defaults</summary><ul>{applied}</ul></details><h2>Golden data</h2><ul>{golden}</ul>")


def render_html(report: dict) -> str:
    s = report["summary"]
    b = report["backend"]
    kpis = []
    for tier, c in s["op_coverage"].items():
        kpis.append(f"<div class='kpi'><b>{pct(c['all_dtypes']['coverage'])}</b>{escape(tier)} ops "
                    f"({c['all_dtypes']['pass']}/{c['all_dtypes']['ops']})</div>")
    for name, w in list(s["workload_coverage"].items())[:4]:
        kpis.append(f"<div class='kpi'><b>{pct(w['calls_fraction'])}</b>{escape(name)} calls</div>")
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in s.get("notes", []))
    cases = ", ".join(f"{escape(k)} {v}" for k, v in s["cases"]["by_status"].items())
    env = report["environment"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>deeplink conformance: {escape(str(b.get('name')))}</title><style>{CSS}</style></head>
<body>
<h1>Conformance report: backend <code>{escape(str(b.get('name')))}</code></h1>
<p><b>Verified on:</b> {escape(str(b.get('verified_on') or 'not stated'))}</p>
<p class="muted">Generated {escape(report['generated_at'])}; torch {escape(env['torch'])}; {escape(env['platform'])};
schema {report['schema_version']}. Cases: {cases}.</p>
{notes}
<div>{''.join(kpis)}</div>
{_coverage_section(report)}
{_workload_section(report)}
{_grid_section(report)}
{_error_section(report)}
{_failures_table(report)}
{_ops_table(report)}
{_policy_section(report)}
<script>{JS}</script>
</body></html>
"""

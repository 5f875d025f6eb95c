"""report.html: one self-contained page (inline CSS, inline SVG, a few lines of inline JS for
filtering the tables). Nothing is fetched: it opens offline and from a CI artifact store."""
from __future__ import annotations

import json
from html import escape

from ..statuses import PASS
from .markdown import pct
from .repro import repro_prefix
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
details{margin:6px 0} .controls label{margin-right:10px} th[data-sort]{cursor:pointer}
th.sorted-asc:after{content:" \\25B2"} th.sorted-desc:after{content:" \\25BC"} code.repro{user-select:all}
"""

# The failing-samples browser. `select` is a pure function of (rows, state) so the paging, filter
# and sort rules are tested outside a browser too (tests/conformance/test_report_failures.py).
FAILURES_JS = r"""
var deeplinkFailures = (function () {
  var FIELDS = {status: 1, op: 2, dtype: 3, category: 4, kind: 5};
  function select(rows, state) {
    var q = (state.op || '').toLowerCase();
    var out = rows.filter(function (r) {
      for (var k in FIELDS) {
        if (k !== 'op' && state[k] && r[FIELDS[k]] !== state[k]) return false;
      }
      return !q || r[2].toLowerCase().indexOf(q) >= 0 || r[6].toLowerCase().indexOf(q) >= 0;
    });
    if (state.sort !== undefined && state.sort !== null && state.sort !== '') {
      var c = +state.sort, sign = state.desc ? -1 : 1;
      out.sort(function (a, b) { return a[c] < b[c] ? -sign : a[c] > b[c] ? sign : 0; });
    }
    var size = state.pageSize || 100, pages = Math.max(1, Math.ceil(out.length / size));
    var page = Math.min(Math.max(0, state.page || 0), pages - 1);
    return {matching: out.length, page: page, pages: pages, rows: out.slice(page * size, (page + 1) * size)};
  }
  function parseHash(hash) {
    var state = {};
    if (hash.indexOf('#failures?') !== 0) return null;
    hash.slice(10).split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) state[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    if (state.page !== undefined) state.page = +state.page - 1;
    if (state.desc !== undefined) state.desc = state.desc === '1';
    return state;
  }
  function esc(t) {
    return String(t).replace(/[&<>"']/g, function (ch) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[ch];
    });
  }
  function start() {
    var data = document.getElementById('failures-data');
    if (!data) return;
    var rows = JSON.parse(data.textContent), prefix = data.getAttribute('data-repro');
    var known = {};
    JSON.parse(document.getElementById('known-ops').textContent).forEach(function (o) { known[o] = 1; });
    var state = {pageSize: +data.getAttribute('data-page'), page: 0};
    var table = document.getElementById('fail-table'), body = table.querySelector('tbody');
    var selects = document.querySelectorAll('#failures ~ .controls select');
    var opBox = document.querySelector('#failures ~ .controls input.opfilter');
    var showing = document.querySelector('#failures ~ .pager .showing');
    selects.forEach(function (sel) {
      var seen = {};
      rows.forEach(function (r) { seen[r[+sel.getAttribute('data-field')]] = 1; });
      Object.keys(seen).sort().forEach(function (v) {
        var o = document.createElement('option'); o.value = v; o.textContent = v; sel.appendChild(o);
      });
    });
    var names = {1: 'status', 3: 'dtype', 4: 'category', 5: 'kind'};
    function opLink(op) {
      return known[op] ? '<a href="#op-' + esc(op) + '"><code>' + esc(op) + '</code></a>' : '<code>' + esc(op) + '</code>';
    }
    function render() {
      var got = select(rows, state);
      state.page = got.page;
      body.innerHTML = got.rows.map(function (r) {
        var blamed = r[6].split(', ').map(function (b) {
          var i = b.indexOf(': '); return i > 0 ? opLink(b.slice(0, i)) + b.slice(i) : esc(b);
        }).join(', ');
        return '<tr data-status="' + esc(r[1]) + '"><td><code>' + esc(r[0]) + '</code></td><td>' + esc(r[1]) +
          '</td><td>' + opLink(r[2]) + '</td><td>' + esc(r[3]) + '</td><td>' + esc(r[4]) + '</td><td>' + blamed +
          '</td><td>' + esc(r[7]) + '</td><td><code class="repro">' + esc(prefix + ' ' + r[0]) + '</code></td></tr>';
      }).join('');
      var first = got.matching ? got.page * state.pageSize + 1 : 0;
      showing.textContent = 'rows ' + first + '-' + (first + got.rows.length - (got.rows.length ? 1 : 0)) + ' of ' +
        got.matching + ' matching (' + rows.length + ' failing samples in all), page ' + (got.page + 1) + ' of ' + got.pages;
      table.querySelectorAll('th').forEach(function (th) {
        th.className = th.getAttribute('data-sort') === String(state.sort) ? (state.desc ? 'sorted-desc' : 'sorted-asc') : '';
      });
    }
    function fromHash() {
      var h = parseHash(window.location.hash);
      if (!h) return false;
      ['status', 'dtype', 'category', 'kind', 'op', 'sort'].forEach(function (k) { state[k] = h[k] || ''; });
      state.desc = !!h.desc; state.page = h.page || 0;
      selects.forEach(function (sel) { sel.value = state[names[sel.getAttribute('data-field')]] || ''; });
      opBox.value = state.op;
      return true;
    }
    selects.forEach(function (sel) {
      sel.addEventListener('change', function () { state[names[sel.getAttribute('data-field')]] = sel.value; state.page = 0; render(); });
    });
    opBox.addEventListener('input', function () { state.op = opBox.value; state.page = 0; render(); });
    document.querySelectorAll('#failures ~ .pager button').forEach(function (b) {
      b.addEventListener('click', function () { state.page += +b.getAttribute('data-step'); render(); });
    });
    table.querySelectorAll('th[data-sort]').forEach(function (th) {
      th.addEventListener('click', function () {
        var c = th.getAttribute('data-sort');
        state.desc = String(state.sort) === c ? !state.desc : false; state.sort = c; render();
      });
    });
    window.addEventListener('hashchange', function () {
      if (fromHash()) { render(); document.getElementById('failures').scrollIntoView(); }
    });
    fromHash();
    render();
  }
  return {select: select, parseHash: parseHash, start: start};
})();
deeplinkFailures.start();
"""


JS = FAILURES_JS + """
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
        failing = "" if o["status"] in (PASS, "untested", "skip") else \
            f" <a href='#failures?op={escape(o['op'])}'>failing samples</a>"
        rows.append(f"<tr id='{escape(_op_anchor(o['op']))}'><td><code>{escape(o['op'])}</code>{failing}</td>"
                    f"<td>{escape(', '.join(o['tiers']))}</td>"
                    f"<td>{escape(o['category'])}</td><td>{_badge(o['status'])}</td><td>{per}</td>"
                    f"<td class='num'>{rel:.2g}</td></tr>")
    return ("<h2>All ops</h2><input class='filter' data-table='ops-table' placeholder='filter ops...'>"
            "<table id='ops-table'><thead><tr><th>op</th><th>tiers</th><th>category</th><th>status</th>"
            f"<th>per dtype</th><th>max rel err</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


FAILING_PAGE = 100     # rows per page of the failing-samples table


def _op_anchor(op: str) -> str:
    return "op-" + op


def failing_rows(report: dict) -> list[list]:
    """Every sample that did not pass (skips aside), as compact rows for the page's script:
    [id, status, op, dtype, category, kind, blamed ops, message]. The category is the one of the
    op the failure is blamed on, else of the first aten overload the sample reached, else of the
    sample's own op."""
    categories = {o["op"]: o["category"] for o in report["ops"]}
    rows = []
    for x in report["samples"]:
        if x["status"] in (PASS, "skip"):
            continue
        blame = x.get("blame") or {}
        blamed = list((blame.get("ops") or {}).keys())
        category = next((categories[o] for o in blamed + list(x.get("aten") or []) + [x["op"]] if o in categories),
                        "other")
        rows.append([x["id"], x["status"], x["op"], x["dtype"], category, x["kind"],
                     ", ".join(f"{k}: {v}" for k, v in (blame.get("ops") or {}).items()) or blame.get("method", ""),
                     (x.get("message") or "")[:300]])
    return rows


def _failures_section(report: dict) -> str:
    rows = failing_rows(report)
    if not rows:
        return "<h2 id='failures'>Failing samples</h2><p>None.</p>"
    data = json.dumps(rows, separators=(",", ":")).replace("</", "<\\/")
    known_ops = json.dumps(sorted(o["op"] for o in report["ops"])).replace("</", "<\\/")
    selects = "".join(f"<label>{name} <select data-field='{i}'><option value=''>all</option></select></label> "
                      for name, i in (("status", 1), ("dtype", 3), ("category", 4), ("kind", 5)))
    return (f"<h2 id='failures'>Failing samples ({len(rows)})</h2>"
            "<p class='muted'>Every sample that did not pass (skips aside), a page at a time. Filter by status, "
            "dtype, category and kind, or by op (matches the sample's op and the blamed ops); click a column "
            "header to sort. The filters live in the address (<code>#failures?status=mismatch&amp;op=erfinv</code>), "
            "so a filtered view can be linked. Each row has the command that reruns the case.</p>"
            f"<div class='controls'>{selects}<label>op <input class='opfilter' placeholder='e.g. erfinv'></label></div>"
            "<p class='pager'><button data-step='-1'>&larr; previous</button> <span class='showing'></span> "
            "<button data-step='1'>next &rarr;</button></p>"
            "<table id='fail-table'><thead><tr><th data-sort='0'>case</th><th data-sort='1'>status</th>"
            "<th data-sort='2'>op</th><th data-sort='3'>dtype</th><th data-sort='4'>category</th>"
            "<th data-sort='6'>blamed op</th><th data-sort='7'>detail</th><th>repro</th></tr></thead><tbody></tbody>"
            "</table>"
            f"<script type='application/json' id='failures-data' data-repro='{escape(repro_prefix(report))}' "
            f"data-page='{FAILING_PAGE}'>{data}</script>"
            f"<script type='application/json' id='known-ops'>{known_ops}</script>")


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
{_failures_section(report)}
{_ops_table(report)}
{_policy_section(report)}
<script>{JS}</script>
</body></html>
"""

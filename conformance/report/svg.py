"""Inline SVG charts for report.html, written by hand (no plotting library, no CDN): the page
must open offline and look the same everywhere. Every mark carries a <title> tooltip."""
from __future__ import annotations

import math
from html import escape

STATUS_COLORS = {
    "pass": "#2e7d32", "fallback": "#f9a825", "mismatch": "#c62828", "error": "#6a1b9a",
    "not_implemented": "#8d99ae", "crash": "#111111", "timeout": "#ef6c00", "skip": "#90caf9",
    "partly_untested": "#bdbdbd", "untested": "#e0e0e0", "missing": "#f8bbd0",
}
STATUS_ORDER = ["pass", "fallback", "mismatch", "error", "not_implemented", "crash", "timeout", "skip",
                "partly_untested", "untested", "missing"]
FONT = "font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"


def _svg(width: int, height: int, body: str, label: str, css_class: str) -> str:
    return (f'<svg class="chart {css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
            f'style="{FONT};font-size:12px">{body}</svg>')


def legend(statuses: list[str], x: int, y: int) -> str:
    parts, cx = [], x
    for s in statuses:
        parts.append(f'<rect x="{cx}" y="{y}" width="11" height="11" fill="{STATUS_COLORS[s]}"/>'
                     f'<text x="{cx + 15}" y="{y + 10}">{escape(s)}</text>')
        cx += 22 + 7 * len(s)
    return "".join(parts)


def stacked_bars(rows: list[tuple[str, dict, str]], title: str, css_class: str, width: int = 760) -> str:
    """One horizontal bar per row, split by status; rows = (label, {status: count}, right_text)."""
    label_w, right_w, bar_h, gap, top = 190, 300, 20, 10, 28
    bar_w = width - label_w - right_w
    height = top + len(rows) * (bar_h + gap) + 30
    present = [s for s in STATUS_ORDER if any(r[1].get(s) for r in rows)]
    body = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>']
    for i, (label, counts, right) in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = sum(counts.values()) or 1
        body.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        x = float(label_w)
        for s in STATUS_ORDER:
            n = counts.get(s, 0)
            if not n:
                continue
            w = bar_w * n / total
            body.append(f'<rect class="bar" x="{x:.2f}" y="{y}" width="{max(w, 0.5):.2f}" height="{bar_h}" '
                        f'fill="{STATUS_COLORS[s]}"><title>{escape(label)}: {n} {escape(s)} '
                        f'({n / total:.1%})</title></rect>')
            x += w
        body.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{escape(right)}</text>')
    body.append(legend(present, label_w, height - 16))
    return _svg(width, height, "".join(body), title, css_class)


def status_grid(ops: list[dict], dtypes: list[str], title: str, css_class: str, named: bool,
                width: int = 760) -> str:
    """Op x dtype status cells. named=True: one row per op with its name (small tiers);
    otherwise a compact heat map, each op a column strip of one cell per dtype."""
    body = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>']
    if named:
        name_w, cell, top = 330, 14, 44
        for j, d in enumerate(dtypes):
            body.append(f'<text x="{name_w + j * (cell + 40) + 4}" y="{top - 8}">{escape(d)}</text>')
        for i, op in enumerate(ops):
            y = top + i * (cell + 3)
            body.append(f'<text x="{name_w - 8}" y="{y + 11}" text-anchor="end">{escape(op["op"])}</text>')
            for j, d in enumerate(dtypes):
                s = op["dtypes"].get(d, {}).get("status", "untested")
                body.append(f'<rect class="cell" x="{name_w + j * (cell + 40)}" y="{y}" width="{cell + 30}" '
                            f'height="{cell}" fill="{STATUS_COLORS.get(s, "#ccc")}"><title>{escape(op["op"])} '
                            f'[{escape(d)}]: {escape(s)}</title></rect>')
        height = top + len(ops) * (cell + 3) + 30
        present = sorted({op["dtypes"].get(d, {}).get("status", "untested") for op in ops for d in dtypes},
                         key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 99)
        body.append(legend(present, 0, height - 16))
        return _svg(width, height, "".join(body), title, css_class)
    cell, per_row, top = 9, (width - 10) // 10, 30
    strip_h = cell * len(dtypes) + 4
    rows = math.ceil(len(ops) / per_row) if ops else 1
    for i, op in enumerate(ops):
        x = (i % per_row) * 10
        y0 = top + (i // per_row) * (strip_h + 3)
        for j, d in enumerate(dtypes):
            s = op["dtypes"].get(d, {}).get("status", "untested")
            body.append(f'<rect class="cell" x="{x}" y="{y0 + j * cell}" width="{cell - 1}" height="{cell - 1}" '
                        f'fill="{STATUS_COLORS.get(s, "#ccc")}"><title>{escape(op["op"])} [{escape(d)}]: '
                        f'{escape(s)}</title></rect>')
    height = top + rows * (strip_h + 3) + 30
    present = sorted({op["dtypes"].get(d, {}).get("status", "untested") for op in ops for d in dtypes},
                     key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 99)
    body.append(f'<text x="0" y="{height - 22}" style="fill:#555">each column strip is one op; '
                f'cells top to bottom: {escape(", ".join(dtypes))}</text>')
    body.append(legend(present, 0, height - 12))
    return _svg(width, height, "".join(body), title, css_class)


def error_histogram(values: list[tuple[float, str]], title: str, css_class: str, width: int = 760) -> str:
    """Histogram of log10(relative error) per compared sample, stacked by status. Exact matches
    (error 0) get their own bar on the left."""
    lo, hi = -8, 3
    bins = ["exact"] + [f"1e{e}" for e in range(lo, hi + 1)]
    counts = [dict() for _ in bins]
    for value, status in values:
        if value is None or value != value:
            continue
        if value <= 0:
            k = 0
        else:
            k = 1 + min(max(int(math.floor(math.log10(value))) - lo, 0), hi - lo)
        counts[k][status] = counts[k].get(status, 0) + 1
    left, top, plot_h = 50, 30, 200
    bar_w = (width - left - 10) / len(bins)
    peak = max((sum(c.values()) for c in counts), default=1) or 1
    scale = math.log10(peak + 1)
    body = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>',
            f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>']
    for tick in range(0, int(scale) + 1):
        y = top + plot_h - plot_h * tick / scale if scale else top + plot_h
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" style="fill:#555">{10 ** tick}</text>')
    for k, c in enumerate(counts):
        x = left + k * bar_w
        total = sum(c.values())
        h_total = plot_h * math.log10(total + 1) / scale if scale and total else 0.0
        y = top + plot_h
        for s in STATUS_ORDER:
            n = c.get(s, 0)
            if not n:
                continue
            h = h_total * n / total
            y -= h
            body.append(f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                        f'fill="{STATUS_COLORS[s]}"><title>{escape(bins[k])}: {n} {escape(s)}</title></rect>')
        body.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                    f'style="fill:#555;font-size:10px">{escape(bins[k])}</text>')
    present = [s for s in STATUS_ORDER if any(c.get(s) for c in counts)]
    one = left + (1 + (0 - lo)) * bar_w        # left edge of the 1e0 bin: the tolerance bound
    body.append(f'<line x1="{one:.1f}" y1="{top}" x2="{one:.1f}" y2="{top + plot_h}" stroke="#c62828" '
                f'stroke-dasharray="4 3"><title>tolerance bound (ratio 1)</title></line>')
    body.append(f'<text x="{left}" y="{top + plot_h + 30}" style="fill:#555">bin 1eK holds ratios in '
                f'[1eK, 1eK+1); counts on a log scale; dashed line: the bound</text>')
    body.append(legend(present, left, top + plot_h + 40))
    return _svg(width, top + plot_h + 58, "".join(body), title, css_class)

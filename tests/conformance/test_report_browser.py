"""report.html in a real headless browser (Debian's Chromium): loads without console errors,
the plots are in the DOM with their marks, and the screenshot shows the status colours.

The harness is checked first against a page with a planted console error, so a silent browser
can never pass the test by accident."""
import re

import pytest

from browser import find_or_install_chromium, load, png_colors

chromium, why_not = find_or_install_chromium()
pytestmark = pytest.mark.skipif(chromium is None, reason=why_not or "no chromium")


def test_harness_sees_console_errors(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('planted'); undefined_fn();</script></body></html>")
    result = load(chromium, page.as_uri(), height=300)
    assert any("planted" in m for m in result.console)
    assert any("undefined_fn" in m for m in result.console)


def test_report_html_renders_offline(cpu_run):
    html_path = cpu_run["out"] / "report.html"
    text = html_path.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    # A viewport-sized screenshot (the KPIs and the tier chart): decoding it in pure Python stays quick.
    result = load(chromium, html_path.as_uri(), width=1000, height=700)
    assert result.console == [], result.console
    dom = result.dom
    for chart in ("tier-coverage", "category-coverage", "status-grid", "error-histogram"):
        assert f'class="chart {chart}' in dom, f"{chart} plot missing from the DOM"
    assert dom.count('class="bar"') > 20 and dom.count('class="cell"') > 100
    assert len(result.screenshot) > 10_000
    (cpu_run["out"] / "report-screenshot.png").write_bytes(result.screenshot)
    colors = png_colors(result.screenshot)
    assert (46, 125, 50) in colors, "no 'pass' green in the screenshot: the plots did not paint"


def test_failing_samples_render_filtered_from_the_address(cpu_run, tmp_path):
    """The page's script renders the failing-samples table of a report with 1,200 failures, a page
    at a time, filtered by the #failures?... address."""
    import copy

    from deeplink.conformance.report.html import render_html

    report = copy.deepcopy(cpu_run["report"])
    template = next(s for s in report["samples"] if s["op"] == "add")
    statuses = ("mismatch", "error", "fallback")
    for i in range(1200):
        report["samples"].append(dict(template, id=f"opinfo/fwd/float32/add/{1000 + i}", status=statuses[i % 3],
                                      blame={"method": "substitution", "ops": {"erfinv": "mismatch"}}
                                      if i % 2 else {}))
    page = tmp_path / "report.html"
    page.write_text(render_html(report))
    result = load(chromium, page.as_uri() + "#failures?status=error&op=erfinv&page=2", height=600)
    assert result.console == [], result.console
    matching = sum(1 for i in range(1200) if statuses[i % 3] == "error" and i % 2)
    shown = result.dom.count('<tr data-status="error">')
    rendered = re.findall(r'<tr data-status="([a-z_]+)">', result.dom)      # rows, not the script's text
    assert len(rendered) == shown == min(100, matching - 100)
    assert f"rows 101-{100 + shown} of {matching} matching (1200 failing samples in all), page 2" in result.dom
    assert "deeplink conformance run --backend cpu --case opinfo/fwd/float32/add/" in result.dom
    # The blamed op links to its row of the ops table, which carries the anchor.
    assert '<a href="#op-erfinv"><code>erfinv</code></a>: mismatch' in result.dom and 'id="op-erfinv"' in result.dom

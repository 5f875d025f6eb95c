"""report.html in a real headless browser (Debian's Chromium): loads without console errors,
the plots are in the DOM with their marks, and the screenshot shows the status colours.

The harness is checked first against a page with a planted console error, so a silent browser
can never pass the test by accident."""
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


def test_failing_samples_render_filtered_from_the_address(cpu_run):
    """The page's script renders the failing-samples table, filtered by the #failures?... address."""
    html_path = cpu_run["out"] / "report.html"
    rows = [s for s in cpu_run["report"]["samples"] if s["status"] not in ("pass", "skip")]
    if not rows:
        pytest.skip("the small cpu run has no failing sample to render")
    status = rows[0]["status"]
    result = load(chromium, html_path.as_uri() + f"#failures?status={status}", height=600)
    assert result.console == [], result.console
    shown = result.dom.count(f'<tr data-status="{status}">')
    assert shown == min(100, sum(s["status"] == status for s in rows))
    assert result.dom.count("<tr data-status=") == shown
    assert "deeplink conformance run --backend cpu --case " in result.dom

"""Write the three report files next to results.jsonl."""
from __future__ import annotations

import json
import math
from pathlib import Path

from .html import render_html
from .markdown import render_markdown


def jsonable(x):
    """JSON has no inf/NaN: write them as strings ("inf"), everything else unchanged."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [jsonable(v) for v in x]
    return x


def write_reports(report: dict, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    safe = jsonable(report)
    paths["json"].write_text(json.dumps(safe, indent=1, allow_nan=False, default=str) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(safe), encoding="utf-8")
    paths["html"].write_text(render_html(safe), encoding="utf-8")
    return paths

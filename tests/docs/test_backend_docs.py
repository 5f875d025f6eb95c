"""Every backend folder under backends/ (folders whose name starts with "_" are shared code) has
its page docs/backends/<name>.md, and every page has exactly the fixed sections, in this order, so
a reader finds the same thing in the same place for every backend (docs/architecture.md)."""
import re

import pytest
from source_scan import ROOT

SECTIONS = ["Run", "Layout", "How an op runs", "Coverage", "Verified where", "Known limits", "Tests"]


def backend_folders() -> list[str]:
    return sorted(p.name for p in (ROOT / "backends").iterdir()
                  if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "__init__.py").exists())


def h2_sections(text: str) -> list[str]:
    """The `## ` headings outside fenced code blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m.group(1).strip() for m in re.finditer(r"^## (.+)$", text, flags=re.M)]


def test_every_backend_folder_has_a_page():
    folders = backend_folders()
    assert {"cpu", "cuda", "ascend", "onnxruntime"} <= set(folders)
    pages = sorted(p.stem for p in (ROOT / "docs" / "backends").glob("*.md"))
    assert not set(folders) - set(pages), f"backends without docs/backends/<name>.md: {set(folders) - set(pages)}"
    assert not set(pages) - set(folders), f"docs/backends/ pages without a backend folder: {set(pages) - set(folders)}"


@pytest.mark.parametrize("name", backend_folders())
def test_page_has_the_fixed_sections_in_order(name):
    page = ROOT / "docs" / "backends" / f"{name}.md"
    text = page.read_text()
    assert text.startswith("# "), f"{page.relative_to(ROOT)} must start with its title"
    assert h2_sections(text) == SECTIONS, (f"{page.relative_to(ROOT)}: sections {h2_sections(text)}, expected exactly "
                                           f"{SECTIONS} (use ### inside them for more)")
    for section, body in zip(SECTIONS, re.split(r"^## .+$", text, flags=re.M)[1:]):
        assert body.strip(), f"{page.relative_to(ROOT)}: section '{section}' is empty"


def test_h2_sections_ignore_code():
    assert h2_sections("# t\n## Run\n```sh\n## not a heading\n```\n## Layout\n") == ["Run", "Layout"]

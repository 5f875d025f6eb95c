"""docs/install.md's table of pip extras and pyproject.toml's [project.optional-dependencies] agree:
the same extras, each row naming every package (or included extra) of its extra, and `all`
including every other extra, so `pip install 'deeplink[<any extra the docs name>]'` is never an
unknown extra."""
import re

import pytest

from source_scan import ROOT

tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")

ROW = re.compile(r"^\| `deeplink\[(\w+)\]` \| (.*?) \|", re.M)


def extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def documented() -> dict[str, str]:
    return dict(ROW.findall((ROOT / "docs" / "install.md").read_text()))


def requirement_name(req: str) -> str:
    return re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0]


def included_extras(reqs: list[str]) -> set[str]:
    """The extras an extra pulls in through `deeplink[a,b]` requirements."""
    out = set()
    for req in reqs:
        m = re.fullmatch(r"deeplink\[([\w,\s]+)\]", req.strip())
        if m:
            out |= {e.strip() for e in m.group(1).split(",")}
    return out


def test_every_extra_has_a_row_and_every_row_an_extra():
    assert set(documented()) == set(extras())


def test_all_includes_every_other_extra():
    defined = extras()
    assert included_extras(defined["all"]) == set(defined) - {"all"}


def test_each_row_names_what_its_extra_installs():
    rows = documented()
    for extra, reqs in extras().items():
        if extra == "all":
            continue
        cell = rows[extra]
        for req in reqs:
            names = included_extras([req]) or {requirement_name(req)}
            for name in names:
                assert f"`{name}`" in cell, f"docs/install.md's row for deeplink[{extra}] does not name {name!r}"


def test_the_conformance_extra_exists():
    """`pip install 'deeplink[conformance]'` is a known extra (issue 15), with what the suite imports."""
    assert "expecttest" in map(requirement_name, extras()["conformance"])

"""docs/env.md lists every environment variable deeplink reads: each `DEEPLINK_*` name the code
mentions as a variable (see variables_in_code) has a row there, and every variable with a row is
mentioned by some code."""
import io
import re
import tokenize

from source_scan import C_SUFFIXES, ROOT, c_literals_and_comments, tracked_files

ENV_DOC = ROOT / "docs" / "env.md"
NAME = re.compile(r"\bDEEPLINK_[A-Z0-9_]*[A-Z0-9]\b")
CODE_SUFFIXES = {".py", ".sh", ".tmpl", ".toml"} | C_SUFFIXES


def code_files():
    for rel in tracked_files():
        p = ROOT / rel
        if p.suffix in CODE_SUFFIXES or p.name == "Makefile":
            yield rel, p.read_text(errors="replace")


def _python_names(text: str) -> tuple[set[str], set[str], set[str]]:
    """(names in string literals, names in comments, names used as identifiers) of Python source."""
    strings, comments, identifiers = set(), set(), set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comments |= set(NAME.findall(tok.string))
            elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                strings |= set(NAME.findall(tok.string))
            elif tok.type == tokenize.NAME and NAME.fullmatch(tok.string):
                identifiers.add(tok.string)
    except (tokenize.TokenError, SyntaxError):
        strings = set(NAME.findall(text))
    return strings, comments, identifiers


def _c_names(text: str) -> tuple[set[str], set[str], set[str]]:
    strings, comments = set(), set()
    for _, tok in c_literals_and_comments(text):
        (comments if tok.startswith("/") else strings).update(NAME.findall(tok))
    macros = set(re.findall(r"#\s*(?:define|ifndef|ifdef)\s+(DEEPLINK_\w+)", text))
    return strings, comments, macros


def variables_in_code() -> dict[str, str]:
    """{name: a file} of DEEPLINK_* names the code uses as environment variables. A name in a
    string literal or in a shell script, Makefile or template is one; a name only in comments is
    one unless it is a Python identifier (a constant) or a C macro (an include guard) somewhere."""
    certain, commented, identifiers = {}, {}, set()
    for rel, text in code_files():
        if rel.endswith(".py"):
            strings, comments, idents = _python_names(text)
        elif any(rel.endswith(s) for s in C_SUFFIXES):
            strings, comments, idents = _c_names(text)
        else:
            strings, comments, idents = set(NAME.findall(text)), set(), set()
        for n in strings:
            certain.setdefault(n, rel)
        for n in comments:
            commented.setdefault(n, rel)
        identifiers |= idents
    return {**{n: f for n, f in commented.items() if n not in identifiers}, **certain}


def documented() -> dict[str, list[str]]:
    """{variable: its row's cells} of every table row of docs/env.md (a row may name several)."""
    rows = {}
    for line in ENV_DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not line.startswith("| `"):
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]):
            rows[name] = cells
    return rows


def test_every_deeplink_variable_in_the_code_is_documented():
    used = variables_in_code()
    rows = documented()
    missing = {n: f for n, f in used.items() if n not in rows}
    assert not missing, "environment variables read by the code but missing from docs/env.md: " + \
        ", ".join(f"{n} ({f})" for n, f in sorted(missing.items()))
    assert {"DEEPLINK_BACKEND", "DEEPLINK_FALLBACK", "DEEPLINK_CPU_DEVICES"} <= set(used)  # the scan works


def test_every_documented_variable_is_read_somewhere():
    texts = [text for _, text in code_files()] + [(ROOT / "Makefile").read_text()]
    unread = [n for n in documented() if not any(re.search(rf"\b{n}\b", t) for t in texts)]
    assert not unread, f"docs/env.md documents variables no code mentions (remove them): {unread}"


def test_every_row_says_default_effect_and_where():
    rows = documented()
    assert len(rows) > 10
    for name, cells in rows.items():
        assert all(cells[:4]), f"docs/env.md: the row of {name} has an empty cell: {cells}"


READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\(|env_long\()\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_every_variable_read_by_name_is_documented():
    """Any variable, not only DEEPLINK_*, that the code reads by a literal name (os.environ.get,
    os.environ[...], getenv, and the Ascend emulator's env_long)."""
    read = {}
    for rel, text in code_files():
        for name in READ.findall(text):
            read.setdefault(name, rel)
    assert "DEEPLINK_FALLBACK" in read and "CC" in read  # the scan works
    missing = {n: f for n, f in read.items() if n not in documented()}
    assert not missing, "environment variables read by name but missing from docs/env.md: " + \
        ", ".join(f"{n} ({f})" for n, f in sorted(missing.items()))

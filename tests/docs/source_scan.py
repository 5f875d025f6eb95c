"""Reading the checkout for the docs tests: which files it has, the comments and string literals
of its code, and the repository paths the docs and comments name (so a test can check they exist).

Repository paths: A "repository path" is a token that starts at a word boundary with a top-level folder of the
checkout (`deeplink/`, `backends/`, `csrc/`, ...: every folder git tracks files in) followed by a
slash; it may contain globs (`*`), placeholders (`<name>`, which match one path component) and
brace sets (`runtime_{ctable,python}.cpp`, every alternative of which must exist).

Where paths are looked for: the whole text of Markdown pages, shell scripts and Makefiles (their
commands name real files too); the comments and docstrings of Python files; the comments of
C and C++ files.
"""
from __future__ import annotations

import ast
import functools
import io
import itertools
import re
import subprocess
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

C_SUFFIXES = {".c", ".cpp", ".h", ".hpp", ".cc"}
SHELL_SUFFIXES = {".sh"}


@dataclass(frozen=True)
class Mention:
    file: str
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}"


SKIPPED_DIRS = {"build", "__pycache__", "node_modules"}


def tracked_files(root: Path = ROOT) -> list[str]:
    """The checkout's files: what git tracks plus new files it does not ignore; without git (a
    copy of the tree), every file outside hidden folders, build outputs and egg-info."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True, timeout=60).stdout
        return sorted({p for p in out.decode().split("\0") if p and (root / p).is_file()})
    except (OSError, subprocess.SubprocessError):
        files = []
        for p in root.rglob("*"):
            rel = p.relative_to(root)
            if p.is_file() and not any(part.startswith(".") or part in SKIPPED_DIRS or part.endswith(".egg-info")
                                       for part in rel.parts):
                files.append(rel.as_posix())
        return sorted(files)


def top_level_folders(files: list[str]) -> set[str]:
    return {f.split("/", 1)[0] for f in files if "/" in f}


def path_pattern(folders: set[str]) -> re.Pattern:
    tops = "|".join(sorted(map(re.escape, folders), key=len, reverse=True))
    # A path token: the folder, a slash, then path characters, brace sets and <placeholders>.
    return re.compile(rf"(?<![\w./~$<-])((?:{tops})/(?:\{{[^{{}}\s]*\}}|<[^<>\s/]+>|[\w.*+/-])*)")


def clean(token: str) -> str:
    return token.rstrip(".-")


def expand_braces(path: str) -> list[str]:
    parts = re.split(r"(\{[^{}]*\})", path)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in itertools.product(*choices)]


def exists(path: str, root: Path = ROOT) -> bool:
    """Every brace alternative must exist; a glob or placeholder must match at least one path."""
    for alt in expand_braces(path):
        pattern = re.sub(r"<[^<>/]+>", "*", alt).rstrip("/")
        if any(ch in pattern for ch in "*?["):
            if not any(root.glob(pattern)):
                return False
        elif not (root / pattern).exists():
            return False
    return True


# ------------------------------------------------------------------ where the text comes from
def python_comment_text(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python file."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out.append((tok.start[0], tok.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.append((body[0].lineno, body[0].value.value))
    return out


_C_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)


def c_literals_and_comments(source: str) -> list[tuple[int, str]]:
    """(line, token) of every string or char literal and every // or /* */ comment of C/C++ source."""
    return [(source.count("\n", 0, m.start()) + 1, m.group(0)) for m in _C_TOKENS.finditer(source)]


def c_comment_text(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment of a C or C++ file (string literals skipped)."""
    return [(line, tok) for line, tok in c_literals_and_comments(source) if tok.startswith("/")]


def texts_of(rel: str, root: Path = ROOT) -> list[tuple[int, str]] | None:
    """What to scan in a tracked file, or None when the file is not one of the scanned kinds."""
    p = root / rel
    name, suffix = p.name, p.suffix
    if suffix == ".md" and (rel == "README.md" or rel.startswith("docs/")):
        return [(1, p.read_text())]
    if suffix in SHELL_SUFFIXES or name == "Makefile":
        return [(1, p.read_text())]
    if suffix == ".py":
        return python_comment_text(p.read_text())
    if suffix in C_SUFFIXES:
        return c_comment_text(p.read_text())
    return None


@functools.lru_cache(maxsize=None)
def mentions(root: Path = ROOT) -> tuple[Mention, ...]:
    files = tracked_files(root)
    pattern = path_pattern(top_level_folders(files))
    found = []
    for rel in files:
        texts = texts_of(rel, root)
        if not texts:
            continue
        for first_line, text in texts:
            for m in pattern.finditer(text):
                path = clean(m.group(1))
                if "/" in path:
                    found.append(Mention(rel, first_line + text.count("\n", 0, m.start()), path))
    return tuple(found)

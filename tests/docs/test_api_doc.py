"""docs/api.md documents every public name of deeplink's Python API, computed from the modules at
test time: a name added without its line in docs/api.md fails here.

Public names of a module: its `__all__`, plus every attribute not starting with "_" that is not a
module or a typing construct, where functions and classes count only if deeplink defines them
(in that module; for a package, anywhere in deeplink) and other values only if the module assigns
them itself (for a package: any value it exposes). For each public class defined in an API module,
its own public members (methods, properties, class attributes, dataclass fields) count too.

Signatures written as calls in a section (`use(name: str) -> None`) must name the function's real
parameters, in order.

A name is documented when its module's section of docs/api.md (the `##` heading naming the module
in backticks) has a code span that starts with it, or with a dotted path ending in it:
`use(name)`, `Runtime.malloc(device, nbytes)`, `deeplink.dtypes.FLOATS`.

Every module directly under deeplink/ is either an API module here or listed as internal, so a new
public module gets a section (or a reason why it needs none)."""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import types
from pathlib import Path

import pytest
from source_scan import ROOT

API_DOC = ROOT / "docs" / "api.md"

#: docs/api.md section name -> module
API_MODULES = {
    "deeplink": "deeplink",
    "torch.deeplink": "deeplink.device_module",
    "deeplink.backend": "deeplink.backend",
    "deeplink.runtime": "deeplink.runtime",
    "deeplink.kernels": "deeplink.kernels",
    "deeplink.kernel_table": "deeplink.kernel_table",
    "deeplink.dtypes": "deeplink.dtypes",
    "deeplink.ckernel": "deeplink.ckernel",
    "deeplink.opset": "deeplink.opset",
    "deeplink.contract": "deeplink.contract",
    "deeplink.extras": "deeplink.extras",
    "deeplink.distributed": "deeplink.distributed",
    "deeplink.cuda_compat": "deeplink.cuda_compat",
    "deeplink.debug": "deeplink.debug",
}

#: Modules under deeplink/ that are not Python API, and where they are documented instead.
INTERNAL = {
    "cli": "the `deeplink` command; its subcommands are described in README.md and docs/",
    "registry": "backend discovery behind deeplink.use / list_backends / register_backend",
    "dispatcher": "routing policy behind route_of / set_fallback_mode (docs/architecture.md)",
    "models": "tiny transformers models for `deeplink demo` and the tests",
    "scaffold": "what `deeplink new-backend` writes; `generate` is shown in docs/plugins.md",
    "data": "data files, not a module (deeplink/data/README.md)",
    "device_index": "the device-argument helper of torch.deeplink",
    "device_memory": "part of torch.deeplink (its section of docs/api.md)",
    "device_random": "part of torch.deeplink (its section of docs/api.md)",
    "device_streams": "part of torch.deeplink (its section of docs/api.md)",
    "process_sharing": "the torch.multiprocessing reducer for deeplink storages (docs/device.md)",
    "compile": "torch.compile integration; the vendor hook is Backend.compile_graph (docs/compile.md)",
    "migration": "CUDA compatibility mode behind deeplink.cuda_compat and `deeplink run` (docs/migration.md)",
    "cache_dirs": "where the caches live (docs/reliability.md, section 4; docs/env.md)",
    "doctor": "`deeplink doctor` (docs/reliability.md, section 4)",
}

_TYPING_MODULES = {"typing", "__future__", "typing_extensions", "collections.abc"}


def _assigned_names(module) -> set[str]:
    """Names a module assigns at top level (x = ..., x: T = ..., a, b = ...)."""
    tree = ast.parse(Path(module.__file__).read_text())
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


def public_names(module) -> set[str]:
    is_package = hasattr(module, "__path__")
    names = set(getattr(module, "__all__", ()))
    assigned = _assigned_names(module)
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if type(value).__module__ in _TYPING_MODULES:
            continue
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            defined_in = getattr(value, "__module__", "") or ""
            if defined_in == module.__name__ or (is_package and defined_in.startswith("deeplink")):
                names.add(name)
        elif is_package or name in assigned:
            names.add(name)
    return names


def class_members(cls) -> set[str]:
    members = {n for n in vars(cls) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        members |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return members


def sections() -> dict[str, str]:
    """{module name in the heading: text of its section} of docs/api.md."""
    out, current = {}, None
    for line in API_DOC.read_text().splitlines():
        m = re.match(r"## `([\w.]+)`", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif line.startswith("## "):
            current = None
        elif current:
            out[current] += line + "\n"
    return out


def documented(name: str, text: str) -> bool:
    return re.search(rf"`(?:[\w.]+\.)?{re.escape(name)}(?![\w])", text) is not None


def missing_from(section_name: str, module_name: str, text: str) -> list[str]:
    module = importlib.import_module(module_name)
    defining = set(API_MODULES.values()) - {module_name}
    missing = [n for n in sorted(public_names(module)) if not documented(n, text)]
    for name in sorted(public_names(module)):
        value = getattr(module, name, None)
        if inspect.isclass(value) and value.__module__ not in defining:
            missing += [f"{name}.{m}" for m in sorted(class_members(value))
                        if not (documented(f"{name}.{m}", text) or documented(m, text))]
    return missing


@pytest.mark.parametrize("section_name", sorted(API_MODULES))
def test_every_public_name_is_documented(section_name):
    import deeplink  # noqa: F401  (torch.deeplink and the mapped packages exist after it)
    text = sections().get(section_name)
    assert text is not None, f"docs/api.md has no section '## `{section_name}`'"
    missing = missing_from(section_name, API_MODULES[section_name], text)
    assert not missing, (f"public names of {section_name} not documented in its section of docs/api.md "
                         f"(add a line with the signature and what it does): {', '.join(missing)}")


def test_every_module_is_api_or_internal():
    found = {p.stem if p.suffix == ".py" else p.name for p in (ROOT / "deeplink").iterdir()
             if not p.name.startswith("_") and (p.suffix == ".py" or p.is_dir()) and p.name != "__pycache__"}
    api = {m.split(".", 1)[1] for m in API_MODULES.values() if "." in m}
    unclassified = sorted(found - api - set(INTERNAL))
    assert not unclassified, (f"deeplink/{unclassified[0]} is neither documented in docs/api.md (add it to "
                              f"API_MODULES and a section there) nor listed in INTERNAL with a reason: "
                              f"{unclassified}")
    assert not set(INTERNAL) - found, f"INTERNAL lists modules that no longer exist: {set(INTERNAL) - found}"


def test_the_check_sees_a_missing_name():
    text = "`use(name)` and `Runtime.malloc(device, nbytes)`; `dtypes.FLOATS`, not FLOATS_NO_F64"
    assert documented("use", text) and documented("malloc", text) and documented("FLOATS", text)
    assert not documented("FLOATS_NO_F64", text) and not documented("name", text)
    assert "KernelTable" in public_names(importlib.import_module("deeplink.kernel_table"))
    assert "normalise" not in public_names(importlib.import_module("deeplink.kernel_table"))  # imported
    assert {"H2D", "D2H", "D2D"} <= public_names(importlib.import_module("deeplink.runtime"))


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current] if current.strip() else parts


def documented_signatures(text: str):
    """(dotted name, [parameter names]) of every code span written as a call: `name(a, b: int = 1)`."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)   # examples are code, not signatures
    for span in re.findall(r"`([^`\n]+)`", text):
        m = re.fullmatch(r"([A-Za-z_][\w.]*)\((.*)\)(\s*->.*)?", span.replace("\\|", "|"))
        if not m or m.group(2).strip() == "..." or (not m.group(2).strip() and not m.group(3)):
            continue  # `f(...)`, and `f()` without a return type, mention a call rather than state a signature
        params = []
        for part in _split_top_level(m.group(2)):
            name = re.match(r"\s*\**\s*([A-Za-z_]\w*)?", part).group(1)
            if name:
                params.append(name)
        yield m.group(1), params


def _resolve(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def signature_mismatches(module, section_name: str, text: str) -> list[str]:
    wrong = []
    for dotted, params in documented_signatures(text):
        obj = _resolve(module, dotted.removeprefix(section_name + "."))
        if obj is None or not callable(obj):
            continue
        try:
            parameters = [p for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")]
        except (TypeError, ValueError):
            continue
        actual = [p.name for p in parameters]
        named = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if params not in (actual, named):   # *args / **kwargs a caller never passes may go unmentioned
            wrong.append(f"{dotted}({', '.join(params)}) but the code has ({', '.join(actual)})")
    return wrong


@pytest.mark.parametrize("section_name", sorted(API_MODULES))
def test_documented_signatures_match_the_code(section_name):
    """A signature written in docs/api.md names the parameters the function really has, in order."""
    import deeplink  # noqa: F401
    module = importlib.import_module(API_MODULES[section_name])
    wrong = signature_mismatches(module, section_name, sections()[section_name])
    assert not wrong, f"docs/api.md, section {section_name}: " + "; ".join(wrong)


def test_the_signature_check_sees_a_renamed_parameter():
    import deeplink
    text = "| `use(backend: str) -> None` | ... | `route_of(op_name, backend=None)` | `register_backend()` mentioned |"
    assert signature_mismatches(deeplink, "deeplink", text) == ["use(backend) but the code has (name)"]

"""Read the `native_functions.yaml` that ships inside the installed torch wheel.

It is the source aten itself is generated from: one entry per overload with its schema, tags
and the dispatch keys that have a kernel. Kernels are not always written on the entry itself:

- `structured_delegate: add.out` - the functional and in-place variants get their kernels from
  the structured `.out` variant, for every backend key the `.out` variant names;
- `ufunc_inner_loop:` on a structured entry - torchgen generates its CPU and CUDA kernels
  (that is how `add.out`, and through it `add.Tensor`, get a CUDA kernel);
- no `dispatch:` and no delegate - the op is CompositeImplicitAutograd (decomposes itself);
- `autogen: foo.out` - torchgen adds these overloads with a CompositeExplicitAutograd kernel.

`resolve_kernel_keys` applies those rules. Only the yaml is read (no torch import), so this takes
about 0.1 s with libyaml's C loader.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from .names import overload_name

YAML_PARTS = ("packaged", "ATen", "native", "native_functions.yaml")
COMPOSITE_IMPLICIT = "CompositeImplicitAutograd"
COMPOSITE_EXPLICIT = "CompositeExplicitAutograd"
UFUNC_KEYS = frozenset({"CPU", "CUDA"})   # torchgen's UFUNC_DISPATCH_KEYS


class NativeYamlNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class NativeFunction:
    """One overload as the yaml states it, before delegates are resolved."""
    name: str                              # "add.Tensor"
    schema: str                            # "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"
    tags: tuple[str, ...]
    own_keys: frozenset[str]               # keys named on this entry (ufunc keys included)
    structured_delegate: str | None        # "add.out"
    autogen: bool = False                  # added by torchgen's `autogen:`, not written in the yaml


def find_native_functions_yaml() -> Path:
    """The yaml inside the installed torchgen package (part of the torch wheel), without importing torch."""
    spec = importlib.util.find_spec("torchgen")
    if spec is None or not spec.submodule_search_locations:
        raise NativeYamlNotFound(
            "cannot derive the operator set: the `torchgen` package (shipped inside the torch wheel) "
            "is not importable. Install a torch wheel (pip install torch==<version>) or pass the path "
            "of a native_functions.yaml explicitly.")
    for location in spec.submodule_search_locations:
        path = Path(location, *YAML_PARTS)
        if path.is_file():
            return path
    raise NativeYamlNotFound(
        f"cannot derive the operator set: {'/'.join(YAML_PARTS)} is missing under "
        f"{list(spec.submodule_search_locations)}. This torch install was stripped of its packaged "
        "ATen sources; reinstall the torch wheel, or pass the path of a native_functions.yaml.")


def _load_yaml(path: Path) -> list[dict]:
    import yaml
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # the pure-Python loader takes ~3 s
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


def _dispatch_keys(entry: dict) -> set[str]:
    keys = set()
    for spec in (entry.get("dispatch") or {}):
        keys.update(k.strip() for k in str(spec).split(","))
    return keys


def _tags(entry: dict) -> tuple[str, ...]:
    tags = entry.get("tags") or ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    return tuple(sorted(tags))


def _name_of(schema: str) -> str:
    base, _, overload = schema[:schema.index("(")].partition(".")
    return overload_name(base, overload)


def read_native_functions(path: str | os.PathLike | None = None) -> list[NativeFunction]:
    """Every overload of the yaml, in file order, followed by the `autogen:` overloads."""
    path = Path(path) if path is not None else find_native_functions_yaml()
    written, generated = [], []
    for entry in _load_yaml(path):
        if "func" not in entry:
            continue
        schema = entry["func"].strip()
        keys = _dispatch_keys(entry)
        if entry.get("ufunc_inner_loop"):
            keys |= UFUNC_KEYS
        delegate = entry.get("structured_delegate")
        if not keys and not delegate:
            keys = {COMPOSITE_IMPLICIT}
        written.append(NativeFunction(_name_of(schema), schema, _tags(entry), frozenset(keys), delegate))
        for name in str(entry.get("autogen") or "").split(","):
            if name.strip():
                generated.append(NativeFunction(name.strip(), "", (), frozenset({COMPOSITE_EXPLICIT}),
                                                None, autogen=True))
    # Two entries may autogen the same overload (_foreach_lerp.List_out in torch 2.13): keep one.
    seen = {f.name for f in written}
    unique = []
    for fn in generated:
        if fn.name not in seen:
            seen.add(fn.name)
            unique.append(fn)
    return written + unique


def resolve_kernel_keys(functions: list[NativeFunction]) -> dict[str, frozenset[str]]:
    """Overload name -> every dispatch key with a kernel, delegates followed."""
    by_name = {f.name: f for f in functions}
    resolved: dict[str, frozenset[str]] = {}

    def keys_of(name: str, chain: tuple[str, ...] = ()) -> frozenset[str]:
        if name in resolved:
            return resolved[name]
        if name in chain:
            raise ValueError(f"structured_delegate cycle in native_functions.yaml: {' -> '.join(chain + (name,))}")
        fn = by_name.get(name)
        if fn is None:
            raise ValueError(f"native_functions.yaml: {chain[-1] if chain else '?'} names "
                             f"structured_delegate {name!r}, which has no entry")
        keys = fn.own_keys
        if fn.structured_delegate:
            keys = keys | keys_of(fn.structured_delegate, chain + (name,))
        resolved[name] = keys
        return keys

    for fn in functions:
        keys_of(fn.name)
    return resolved

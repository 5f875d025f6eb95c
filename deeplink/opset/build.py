"""Derive the operator set: yaml facts + the CUDA build's registrations + OpInfo dtypes + workloads."""
from __future__ import annotations

import time
from pathlib import Path

from . import workloads as workloads_mod
from .cuda_dtypes import UNKNOWN, cuda_dtypes_by_packet
from .installed_torch import TorchFacts, installed_torch_version, query_installed_torch
from .model import FROM_BOTH, FROM_REGISTRATIONS, FROM_YAML, Disagreement, OpEntry, OpSet
from .names import split_name
from .native_yaml import find_native_functions_yaml, read_native_functions, resolve_kernel_keys
from .registrations import load_registrations
from .schema_kind import FUNCTIONAL, INPLACE, OUT, schema_kind
from .tiers import TIERS, tiers_of

COMPOSITE_KEYS = ("CompositeImplicitAutograd", "CompositeExplicitAutograd",
                  "CompositeExplicitAutogradNonFunctional")


def _base_version(v: str) -> str:
    return v.split("+", 1)[0]


def _kind_from_name(name: str) -> str:
    """For an autogen overload whose schema torch could not give: torchgen's naming convention."""
    base, overload = split_name(name)
    if base.endswith("_"):
        return INPLACE
    return OUT if overload == "out" or overload.endswith("_out") else FUNCTIONAL


def _source(in_yaml: bool, in_registrations: bool) -> str | None:
    if in_yaml and in_registrations:
        return FROM_BOTH
    return FROM_YAML if in_yaml else FROM_REGISTRATIONS if in_registrations else None


def _disagreements(entries: dict[str, OpEntry], registered_cuda: frozenset[str], llm: frozenset[str],
                   torch_version: str, registrations_version: str) -> list[Disagreement]:
    """Every point where the yaml and the CUDA reference data differ, with the likely cause."""
    if _base_version(torch_version) == _base_version(registrations_version):
        cause = "same torch version on both sides: a rule in deeplink/opset/native_yaml.py misses a case"
    else:
        cause = (f"torch versions differ (yaml: {torch_version}, registrations: {registrations_version}); "
                 "the op changed between them")
    found = []
    for e in entries.values():
        if e.cuda_kernel_source == FROM_YAML:
            found.append(Disagreement(e.name, "cuda kernel", "CUDA kernel", "no CUDA kernel registered", cause))
        elif e.cuda_kernel_source == FROM_REGISTRATIONS:
            found.append(Disagreement(e.name, "cuda kernel", "no CUDA kernel", "CUDA kernel registered", cause))
    for name in sorted(registered_cuda - set(entries)):
        found.append(Disagreement(name, "cuda kernel", "no such overload", "CUDA kernel registered", cause))
    for name in sorted(llm - set(entries)):
        found.append(Disagreement(name, "llm workload op", "no such overload",
                                  "called by a traced LLM training step", cause))
    return found


def _notes(facts: TorchFacts, entries: dict[str, OpEntry], not_generated: list[str],
           torch_version: str) -> list[str]:
    notes = []
    if facts.error:
        notes.append(f"CUDA dtypes and autogen schemas are unknown: {facts.error}")
    if facts.opinfo_error:
        notes.append(f"CUDA dtypes are unknown: torch's OpInfo database would not import "
                     f"({facts.opinfo_error}); installing `expecttest` usually fixes it")
    if not_generated:
        notes.append(f"{len(not_generated)} overloads named by `autogen:` in the yaml do not exist in "
                     f"torch {torch_version} and were left out, e.g. {', '.join(sorted(not_generated)[:3])}")
    no_schema = [n for n, e in entries.items() if not e.schema]
    if no_schema:
        notes.append(f"{len(no_schema)} autogen overloads have no schema (torch was not asked or did "
                     f"not answer), e.g. {', '.join(no_schema[:3])}")
    return notes


def build_opset(yaml_path: str | Path | None = None, registrations_path: str | Path | None = None,
                torch_facts: TorchFacts | None = None, llm_ops: frozenset[str] | None = None,
                torch_version: str | None = None) -> OpSet:
    """Build from scratch: ~0.3 s, plus ~3.5 s for the child process that asks torch for OpInfo
    dtypes and autogen schemas (skipped when `torch_facts` is given). Use cache.load_opset()."""
    started = time.perf_counter()
    yaml_path = Path(yaml_path) if yaml_path is not None else find_native_functions_yaml()
    functions = read_native_functions(yaml_path)
    kernel_keys = resolve_kernel_keys(functions)
    registrations = load_registrations(registrations_path)
    facts = torch_facts if torch_facts is not None else query_installed_torch()
    llm = workloads_mod.llm_ops() if llm_ops is None else llm_ops
    torch_version = torch_version or installed_torch_version()
    dtypes = cuda_dtypes_by_packet(facts.opinfos, {split_name(f.name)[0] for f in functions})
    registered_cuda = registrations.by_key.get("CUDA", frozenset())

    entries: dict[str, OpEntry] = {}
    not_generated = []
    for fn in functions:
        if fn.autogen and facts.aten_schemas and fn.name not in facts.aten_schemas:
            # torchgen skips some `autogen:` names (e.g. on CompositeImplicitAutograd ops); torch
            # answered and does not have them, so they are not part of its operator set.
            not_generated.append(fn.name)
            continue
        keys = kernel_keys[fn.name]
        schema = fn.schema or facts.aten_schemas.get(fn.name, "")
        kind = schema_kind(schema) if schema else _kind_from_name(fn.name)
        yaml_cuda, reg_cuda = "CUDA" in keys, fn.name in registered_cuda
        dtype_info = dtypes.get(split_name(fn.name)[0])
        entries[fn.name] = OpEntry(
            name=fn.name, schema=schema, kind=kind, tags=fn.tags, kernel_keys=tuple(sorted(keys)),
            structured_delegate=fn.structured_delegate,
            cuda_kernel=yaml_cuda or reg_cuda, cuda_kernel_source=_source(yaml_cuda, reg_cuda),
            composite=next((k for k in COMPOSITE_KEYS if k in keys), None),
            cuda_dtypes=dtype_info.dtypes if dtype_info else None,
            cuda_dtypes_source=dtype_info.source if dtype_info else UNKNOWN,
            tiers=tiers_of(fn.name, tags=fn.tags, functional=kind == FUNCTIONAL,
                           cuda_kernel=yaml_cuda or reg_cuda, llm_ops=llm),
            origin="autogen" if fn.autogen else "yaml")
    entries = dict(sorted(entries.items()))

    return OpSet(
        entries, {t: tuple(n for n, e in entries.items() if t in e.tiers) for t in TIERS},
        torch_version, str(yaml_path), registrations.source, registrations.torch_version,
        tuple(_disagreements(entries, registered_cuda, llm, torch_version, registrations.torch_version)),
        tuple(_notes(facts, entries, not_generated, torch_version)), facts.error or "",
        round(time.perf_counter() - started, 3))

"""The operator set as data: one OpEntry per aten overload, tiers, and the cross-check findings."""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Iterator

from .cuda_dtypes import UNKNOWN
from .schema_kind import FUNCTIONAL

# Where "CUDA has a kernel" was learnt: the torch wheel's yaml, the CUDA build's registrations, or both.
FROM_YAML, FROM_REGISTRATIONS, FROM_BOTH = "yaml", "registrations", "both"


@dataclass(frozen=True)
class OpEntry:
    name: str                          # aten overload name: "add.Tensor", "mm"
    schema: str                        # aten schema without namespace; "" if torch could not tell
    kind: str                          # functional | inplace | out | mutable | scratch
    tags: tuple[str, ...]              # "core", "pointwise", ...
    kernel_keys: tuple[str, ...]       # dispatch keys with a kernel, structured_delegate resolved
    structured_delegate: str | None    # "add.out" for add.Tensor
    cuda_kernel: bool                  # a dense CUDA kernel exists (yaml or registrations say so)
    cuda_kernel_source: str | None     # yaml | registrations | both; None when neither says so
    composite: str | None              # CompositeImplicitAutograd/...: how it runs on CUDA without a kernel
    cuda_dtypes: tuple[str, ...] | None  # None: unknown
    cuda_dtypes_source: str            # "opinfo:add" or "unknown"
    tiers: tuple[str, ...]             # subset of ("core", "cuda", "llm")
    origin: str = "yaml"               # yaml | autogen (an overload torchgen adds via `autogen:`)

    @property
    def functional(self) -> bool:
        return self.kind == FUNCTIONAL

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cuda_dtypes"] = list(self.cuda_dtypes) if self.cuda_dtypes is not None else UNKNOWN
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "OpEntry":
        d = dict(d)
        d["cuda_dtypes"] = None if d["cuda_dtypes"] == UNKNOWN else tuple(d["cuda_dtypes"])
        for key in ("tags", "kernel_keys", "tiers"):
            d[key] = tuple(d[key])
        return cls(**d)


@dataclass(frozen=True)
class Disagreement:
    """A point where the sources do not agree. Reported, never silently resolved."""
    op: str
    subject: str            # "cuda kernel" | "llm workload op"
    yaml_says: str
    other_says: str         # what cuda_registrations.json / llm_workloads_cuda.json say
    likely_cause: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OpSet:
    entries: dict[str, OpEntry]
    tiers: dict[str, tuple[str, ...]]             # tier -> sorted overload names
    torch_version: str                            # the torch whose yaml was read
    yaml_path: str
    registrations_source: str
    registrations_torch_version: str
    disagreements: tuple[Disagreement, ...] = ()
    notes: tuple[str, ...] = ()                   # e.g. why dtypes are unknown
    torch_query_error: str = ""                   # set when asking torch for dtypes/schemas failed
    build_seconds: float = 0.0
    loaded_from: str = "built"                    # built | memory | <cache file path>
    _by_tier: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[OpEntry]:
        return iter(self.entries.values())

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __getitem__(self, name: str) -> OpEntry:
        try:
            return self.entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"{name!r} is not an aten overload of torch {self.torch_version} "
                           f"(names look like 'add.Tensor', 'mm'){hint}") from None

    def get(self, name: str) -> OpEntry | None:
        return self.entries.get(name)

    def tier(self, name: str) -> list[OpEntry]:
        """Entries of a tier ("llm", "core", "cuda") or of "all" (their union), sorted by name."""
        if name not in self._by_tier:
            if name == "all":
                names = sorted(set().union(*self.tiers.values()))
            elif name in self.tiers:
                names = self.tiers[name]
            else:
                raise KeyError(f"unknown tier {name!r}; tiers are {', '.join(sorted(self.tiers))} and 'all'")
            self._by_tier[name] = [self.entries[n] for n in names]
        return self._by_tier[name]

    def tier_sizes(self) -> dict[str, int]:
        return {name: len(names) for name, names in self.tiers.items()}

    def to_dict(self) -> dict:
        return {
            "torch_version": self.torch_version,
            "yaml_path": self.yaml_path,
            "registrations_source": self.registrations_source,
            "registrations_torch_version": self.registrations_torch_version,
            "tiers": {k: list(v) for k, v in self.tiers.items()},
            "disagreements": [d.to_dict() for d in self.disagreements],
            "notes": list(self.notes),
            "torch_query_error": self.torch_query_error,
            "build_seconds": self.build_seconds,
            "entries": [e.to_dict() for e in self.entries.values()],
        }

    @classmethod
    def from_dict(cls, d: dict, loaded_from: str) -> "OpSet":
        entries = {e["name"]: OpEntry.from_dict(e) for e in d["entries"]}
        return cls(entries, {k: tuple(v) for k, v in d["tiers"].items()}, d["torch_version"],
                   d["yaml_path"], d["registrations_source"], d["registrations_torch_version"],
                   tuple(Disagreement(**x) for x in d["disagreements"]), tuple(d["notes"]),
                   d["torch_query_error"], d["build_seconds"], loaded_from)

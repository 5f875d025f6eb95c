"""Tier membership (llm / core / cuda) and tags, from deeplink.opset (the single source).

If the opset cannot be built on this machine (no native_functions.yaml in the torch wheel), the
report still comes out: tiers are then empty and the report says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TierInfo:
    tiers: dict[str, list[str]] = field(default_factory=dict)      # tier -> overloads
    descriptions: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple] = field(default_factory=dict)           # overload -> tags
    error: str = ""
    torch_version: str = ""

    def tiers_of(self, op: str) -> list[str]:
        return [t for t, ops in self.tiers.items() if op in self._sets[t]]

    def __post_init__(self):
        self._sets = {t: set(v) for t, v in self.tiers.items()}


def load_tiers() -> TierInfo:
    try:
        from deeplink.opset import TIERS, load_opset  # noqa: PLC0415

        opset = load_opset()
    except Exception as e:  # noqa: BLE001  (the report explains instead of failing)
        return TierInfo(error=f"deeplink.opset unavailable ({type(e).__name__}: {e}); no tier figures")
    return TierInfo({t: list(v) for t, v in opset.tiers.items()}, dict(TIERS),
                    {e.name: tuple(e.tags) for e in opset}, "", opset.torch_version)


def load_workloads(extra_files: list[str]):
    """The packaged LLM workloads plus any traced by `conformance trace` (same file format)."""
    from deeplink.opset.workloads import load_workloads as load  # noqa: PLC0415

    workloads = dict(load())
    for path in extra_files:
        for name, w in load(path).items():
            workloads[name if name not in workloads else f"{path}:{name}"] = w
    return workloads

"""One onnxruntime InferenceSession per graph key, built on first use and kept.

A key is (op, input dtypes, ranks, layout of each input, attributes): everything that changes the
graph, nothing that changes only the shapes (inputs have symbolic dims). The cache counts hits,
misses and build time so tests and `probe()` can show that graphs are reused.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import onnxruntime as ort

from . import providers as _providers


@dataclass
class CompiledGraph:
    key: tuple
    session: ort.InferenceSession
    input_names: list
    output_names: list
    provider: str                  # the EP that actually took the graph: get_providers()[0]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    build_seconds: float = 0.0
    providers_used: dict = field(default_factory=dict)   # EP name -> sessions built on it

    def as_dict(self) -> dict:
        return {"hits": self.hits, "misses": self.misses,
                "build_ms": round(self.build_seconds * 1000, 1),
                "providers_used": dict(self.providers_used)}


def strict() -> bool:
    return os.environ.get("DEEPLINK_ORT_STRICT") == "1"


def session_providers(requested: list) -> list:
    """The EP list handed to ORT: in strict mode without the CPU EP when another EP comes first
    (ORT refuses an explicit CPU EP together with disabled CPU fallback)."""
    first = _providers.provider_name(requested[0]) if requested else "CPUExecutionProvider"
    if strict() and first != "CPUExecutionProvider":
        return [p for p in requested if _providers.provider_name(p) != "CPUExecutionProvider"]
    return list(requested)


def _session_options(requested: list | None = None) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.log_severity_level = 4   # errors are raised to the caller, not logged
    # Basic optimizations only: the graphs are a few nodes; extended fusions would replace our
    # exact formulas (e.g. Gelu, LayerNorm) with approximations of their own.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    threads = os.environ.get("DEEPLINK_ORT_THREADS")
    if threads:
        so.intra_op_num_threads = int(threads)
    first = _providers.provider_name(requested[0]) if requested else "CPUExecutionProvider"
    if strict() and first != "CPUExecutionProvider":
        # Refuse to build a graph that a non-CPU EP cannot take whole (no silent CPU fallback).
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    return so


class SessionCache:
    def __init__(self):
        self._graphs: dict = {}
        self._lock = threading.Lock()
        self.stats = CacheStats()
        _providers.on_change(self.clear)

    def __len__(self) -> int:
        return len(self._graphs)

    def clear(self) -> None:
        with self._lock:
            self._graphs.clear()

    def get(self, key: tuple, build) -> CompiledGraph:
        """`build()` returns a graph.Graph; it runs only when `key` was never seen."""
        compiled = self._graphs.get(key)
        if compiled is not None:
            self.stats.hits += 1
            return compiled
        with self._lock:
            compiled = self._graphs.get(key)
            if compiled is None:
                compiled = self._compile(key, build)
                self._graphs[key] = compiled
            else:
                self.stats.hits += 1
        return compiled

    def _compile(self, key: tuple, build) -> CompiledGraph:
        t0 = time.perf_counter()
        compiled = new_session(build(), key, f"{key[0]} (key {key[1:]})")
        self.stats.misses += 1
        self.stats.build_seconds += time.perf_counter() - t0
        self.stats.providers_used[compiled.provider] = self.stats.providers_used.get(compiled.provider, 0) + 1
        return compiled


def new_session(graph, key, what: str) -> CompiledGraph:
    """An InferenceSession for `graph` (a graph.Graph) on the requested providers; `what` names
    the graph in the error raised when the providers cannot take it."""
    requested = list(_providers.requested())
    try:
        sess = ort.InferenceSession(graph.model_bytes(), _session_options(requested),
                                    providers=session_providers(requested))
    except Exception as exc:   # ORT raises its own exception types (Fail, NotImplemented...)
        raise NotImplementedError(
            f"onnxruntime backend: cannot build the graph for {what} on providers {requested}: "
            f"{exc}. The execution provider lacks this operator/dtype (or the provider settings "
            f"conflict): choose other providers (DEEPLINK_ORT_PROVIDERS, DEEPLINK_ORT_STRICT) or "
            f"another backend."
        ) from exc
    return CompiledGraph(key, sess, [i.name for i in sess.get_inputs()],
                         [o.name for o in sess.get_outputs()], sess.get_providers()[0])


#: The process-wide cache used by every kernel.
CACHE = SessionCache()

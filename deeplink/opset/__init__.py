"""The CUDA-like operator set: every aten overload of the installed torch, with its schema, tags,
whether CUDA has a dense kernel (and who says so), the dtypes CUDA supports where known, and the
tiers it belongs to (`llm`, `core`, `cuda`).

    from deeplink.opset import load_opset
    ops = load_opset()                      # first build ~4 s, then tens of ms (file cache)
    ops["add.Tensor"].cuda_kernel           # True (structured via add.out)
    [e.name for e in ops.tier("llm")]       # the ops of real LLM training steps
    ops.disagreements                       # where the yaml and the CUDA build disagree

Derived, not hand-listed: see native_yaml.py (the torch wheel's native_functions.yaml),
registrations.py (what a CUDA build registers), cuda_dtypes.py (OpInfo), workloads.py (LLM steps).
"""
from .cache import clear_memory_cache, load_opset
from .model import Disagreement, OpEntry, OpSet
from .native_yaml import NativeYamlNotFound, find_native_functions_yaml
from .tiers import ALL, CORE, CUDA, LLM, TIERS
from . import workloads

__all__ = ["load_opset", "clear_memory_cache", "OpSet", "OpEntry", "Disagreement", "TIERS",
           "LLM", "CORE", "CUDA", "ALL", "NativeYamlNotFound", "find_native_functions_yaml",
           "workloads"]

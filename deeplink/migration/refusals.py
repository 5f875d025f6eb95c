"""What CUDA compatibility mode cannot honour, and the error that says so: CUDA graphs, custom CUDA
extensions (torch.utils.cpp_extension with CUDA sources), Triton kernels on a backend that is not
CUDA, and torch.cuda calls that only mean something to NVIDIA's driver (NVML, cuBLAS handles...).
Each raises CudaCompatError naming the call, the active backend and what to do instead."""
from __future__ import annotations

import functools


class CudaCompatError(NotImplementedError):
    """A CUDA-only call that deeplink's CUDA compatibility mode cannot run on the deeplink device."""


def backend_name() -> str:
    from deeplink import registry
    return registry.active().name


def refuse(call: str, why: str, instead: str):
    raise CudaCompatError(f"{call}: {why}; the deeplink device (backend '{backend_name()}') cannot honour it "
                          f"in CUDA compatibility mode. {instead}")


def refusing(call: str, why: str, instead: str, as_class: bool = False):
    """A callable that raises CudaCompatError for `call` whenever it is called; a class (that
    raises when instantiated) where code may also use it as a type, e.g. in annotations
    (`torch.cuda.CUDAGraph | None`) or isinstance checks."""
    if as_class:
        def new(cls, *args, **kwargs):
            refuse(call, why, instead)
        return type(call.rsplit(".", 1)[-1], (), {"__new__": new, "__module__": "torch.cuda",
                                                  "__doc__": f"Refused in CUDA compatibility mode: {why}."})

    def refused(*args, **kwargs):
        refuse(call, why, instead)
    refused.__name__ = call.rsplit(".", 1)[-1]
    refused.__qualname__ = call
    refused.__doc__ = f"Refused in CUDA compatibility mode: {why}."
    return refused


GRAPHS = ("CUDA graphs record CUDA kernel launches for replay, and deeplink has no graph capture",
          "Run the captured region eagerly (drop the capture), or torch.compile it")
NVIDIA_ONLY = "it reads or changes state of NVIDIA's driver or CUDA libraries, which deeplink does not have"
NVIDIA_INSTEAD = "Remove the call, or guard it with `if deeplink.cuda_compat.is_enabled()` (docs/migration.md)"


# ---------------------------------------------------------------- custom CUDA extensions
def _has_cuda_sources(sources) -> bool:
    if isinstance(sources, str):
        sources = [sources]
    return any(str(s).endswith((".cu", ".cuh")) for s in sources or ())


def _cpp_extension_guard(original, call: str, cuda_sources_of):
    @functools.wraps(original)
    def load(*args, **kwargs):
        if backend_name() != "cuda" and cuda_sources_of(args, kwargs):
            refuse(call, "the extension has CUDA sources (.cu / cuda_sources / with_cuda=True), which compile to "
                         "kernels for NVIDIA GPUs only",
                   "Build a CPU version of the extension, write the op as a deeplink kernel (docs/plugins.md), "
                   "or run with `deeplink run --backend cuda` on a CUDA machine")
        return original(*args, **kwargs)
    return load


def _load_has_cuda(args, kwargs) -> bool:
    sources = kwargs.get("sources", args[1] if len(args) > 1 else None)
    return bool(kwargs.get("with_cuda")) or _has_cuda_sources(sources)


def _load_inline_has_cuda(args, kwargs) -> bool:
    cuda_sources = kwargs.get("cuda_sources", args[2] if len(args) > 2 else None)
    return bool(kwargs.get("with_cuda")) or bool(cuda_sources)


def install_cpp_extension(patches) -> None:
    from torch.utils import cpp_extension
    patches.set(cpp_extension, "load", _cpp_extension_guard(cpp_extension.load, "torch.utils.cpp_extension.load",
                                                            _load_has_cuda))
    patches.set(cpp_extension, "load_inline", _cpp_extension_guard(
        cpp_extension.load_inline, "torch.utils.cpp_extension.load_inline", _load_inline_has_cuda))
    patches.set(cpp_extension, "CUDAExtension", _cpp_extension_guard(
        cpp_extension.CUDAExtension, "torch.utils.cpp_extension.CUDAExtension", lambda a, k: True))


# ---------------------------------------------------------------- Triton
def _triton_launch_guard(original, kind: str):
    @functools.wraps(original)
    def run(self, *args, **kwargs):
        if backend_name() != "cuda":
            name = getattr(getattr(self, "fn", self), "__name__", "?")
            refuse(f"Triton {kind} '{name}' launch", "Triton compiles kernels for NVIDIA and AMD GPUs only",
                   "Use the PyTorch ops the kernel implements (or torch.compile, which compiles for deeplink), or "
                   "run with `deeplink run --backend cuda` on a CUDA machine")
        return original(self, *args, **kwargs)
    return run


def install_triton(patches) -> None:
    """Called when `triton` is imported in compatibility mode: its kernel launches refuse."""
    import importlib
    for module, cls, kind in (("triton.runtime.jit", "JITFunction", "kernel"),
                              ("triton.runtime.autotuner", "Autotuner", "autotuned kernel")):
        try:
            owner = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            continue
        patches.set(owner, "run", _triton_launch_guard(owner.run, kind))

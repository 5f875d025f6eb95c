"""The CUDA backend: a deeplink device on NVIDIA GPUs, on torch's own CUDA runtime.

    backend.py     CudaBackend: probe (CUDA build of torch, a visible GPU), runtime, kernels
    runtime.py     torch's CUDA caching allocator, streams and events (backends/_aten/runtime.py)
    kernels.py     ATen's CUDA kernels, zero-copy (Passthrough), and cuDNN convolution
    collectives.py torch.distributed collectives: NCCL on zero-copy CUDA views (unverified: no GPU here)

docs/backends/cuda.md has how to verify it on a GPU (scripts/verify_cuda.sh) and what was verified where.
"""
from .backend import CudaBackend

__all__ = ["CudaBackend"]

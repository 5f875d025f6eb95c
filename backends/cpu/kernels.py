"""Kernel table of the CPU reference backend: ATen CPU for everything ATen has, plus the
CUDA-only attention kernels of the LLM tier."""
from collections import ChainMap

from deeplink.kernels import AtenKernels


def cpu_kernels():
    from .attention import ATTENTION_KERNELS
    return ChainMap(ATTENTION_KERNELS, AtenKernels("cpu"))

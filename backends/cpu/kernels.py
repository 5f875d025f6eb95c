"""Kernel table of the CPU reference backend: ATen CPU for everything ATen has, plus the CUDA-only
attention kernels of the LLM tier (ops/attention.py) and the convolution entry points ATen uses for
devices it does not know (backends/_aten/convolution.py)."""
from collections import ChainMap

from .._aten.convolution import convolution_kernels
from .._aten.kernels import AtenKernels


def cpu_kernels():
    from .ops.attention import ATTENTION_KERNELS
    return ChainMap(ATTENTION_KERNELS, convolution_kernels("cpu"), AtenKernels("cpu"))

"""Kernel table of the CPU reference backend: ATen CPU for everything ATen has, plus the
CUDA-only attention kernels of the LLM tier and the convolution entry points ATen uses for
devices it does not know."""
from collections import ChainMap

from deeplink.kernels import AtenKernels


def cpu_kernels():
    from deeplink.aten_convolution import convolution_kernels

    from .attention import ATTENTION_KERNELS
    return ChainMap(ATTENTION_KERNELS, convolution_kernels("cpu"), AtenKernels("cpu"))

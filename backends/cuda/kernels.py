"""Kernel table of the CUDA backend: ATen's CUDA kernels, zero-copy on the same memory
(Passthrough), plus the convolution entry points ATen uses for devices it does not know, which call
cuDNN through ATen's CUDA convolution on zero-copy views (backends/_aten/convolution.py)."""
from collections import ChainMap

from .._aten.convolution import convolution_kernels
from .._aten.kernels import AtenKernels


def cuda_kernels():
    return ChainMap(convolution_kernels("cuda"), AtenKernels("cuda"))

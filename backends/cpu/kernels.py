"""Kernel table of the CPU reference backend: ATen CPU for everything ATen has, plus the CUDA-only
attention kernels of the LLM tier (ops/attention.py), the PrivateUse1 fused-attention hook on
ATen's CPU flash kernel (ops/fused_attention.py), the dtypes CUDA has that ATen CPU lacks, computed
wider (ops/upcast.py), and the convolution entry points ATen uses for devices it does not know
(backends/_aten/convolution.py)."""
from collections import ChainMap

from .._aten.convolution import convolution_kernels
from .._aten.kernels import AtenKernels


def cpu_kernels():
    from .ops.attention import ATTENTION_KERNELS
    from .ops.fused_attention import FUSED_ATTENTION_KERNELS
    from .ops.upcast import widened_kernels
    return ChainMap(ATTENTION_KERNELS, FUSED_ATTENTION_KERNELS, convolution_kernels("cpu"), widened_kernels(),
                    AtenKernels("cpu"))

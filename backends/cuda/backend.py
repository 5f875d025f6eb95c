"""The CUDA backend class. The folder's parts are listed in __init__.py; docs/backends/cuda.md
has the rest (what was verified on which GPU)."""
from __future__ import annotations

from deeplink.backend import Availability, Backend


class CudaBackend(Backend):
    name = "cuda"
    version = "1"
    description = "NVIDIA CUDA: torch's CUDA allocator and streams, ATen CUDA kernels zero-copy"
    priority = 100
    aten_device = "cuda"

    @property
    def verified_on(self) -> str:
        """The GPU this process runs on, so a conformance report names the machine it came from."""
        import torch
        if torch.version.cuda is None or not torch.cuda.is_available():
            return "not run on a GPU here (see docs/backends/cuda.md for what was verified where)"
        return f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, torch {torch.__version__}"

    def probe(self) -> Availability:
        import torch
        if torch.version.cuda is None:
            return Availability.no(f"this torch ({torch.__version__}) is built without CUDA; install a CUDA build of "
                                   "torch to use the cuda backend")
        try:
            n = torch.cuda.device_count()
        except Exception as e:  # driver problems surface here
            return Availability.no(f"torch.cuda.device_count() failed: {e}")
        if n == 0:
            return Availability.no(f"torch {torch.__version__} has CUDA {torch.version.cuda} but sees no GPU "
                                   "(check the driver and CUDA_VISIBLE_DEVICES)")
        return Availability.yes(cuda=torch.version.cuda, devices=n, device0=torch.cuda.get_device_name(0))

    def runtime(self):
        from .runtime import make_runtime
        return make_runtime()

    def kernels(self):
        from .kernels import cuda_kernels
        return cuda_kernels()

    def collectives(self):
        from .collectives import NcclCollectives
        return NcclCollectives()

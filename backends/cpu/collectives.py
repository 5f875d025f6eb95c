"""The cpu backend's collectives for torch.distributed: its memory is host memory: gloo on zero-copy host views
(deeplink/distributed/host_views.py), so a collective costs what gloo costs on plain CPU tensors."""
from deeplink.distributed import HostViewCollectives


def make_collectives() -> HostViewCollectives:
    return HostViewCollectives()

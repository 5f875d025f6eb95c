"""The devices every test in tests/pytorch is instantiated for, in the same run."""
import torch

DEVICES = ("cpu", "deeplink")


def cpu(x):
    """A CPU copy of a tensor (or of the tensors in a tuple/list), for references."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, (tuple, list)):
        return type(x)(cpu(v) for v in x)
    return x

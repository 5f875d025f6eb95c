"""Startup hook of the processes a `deeplink run` program starts (torchrun workers, spawned DataLoader
and multiprocessing children, any Python subprocess): `deeplink run` puts this folder first on
PYTHONPATH and sets DEEPLINK_CUDA_COMPAT=1, so Python runs this file at start-up. It turns CUDA
compatibility on as soon as the process imports torch (a process that never does pays nothing),
then runs the sitecustomize this one shadows, if there is one."""
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


class _EnableAfterTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def load_then_enable(module):
            load(module)
            import deeplink.cuda_compat
            deeplink.cuda_compat.enable()
        spec.loader.exec_module = load_then_enable
        return spec


def _chain_shadowed() -> None:
    others = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if os.environ.get("DEEPLINK_CUDA_COMPAT", "") not in ("", "0"):
    if "torch" in sys.modules:
        import deeplink.cuda_compat
        deeplink.cuda_compat.enable()
    else:
        sys.meta_path.insert(0, _EnableAfterTorch())
_chain_shadowed()

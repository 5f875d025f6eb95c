"""The backend contract suite (deeplink/contract/) run against every in-tree backend this machine
can run, and the ATen-device runtime the CUDA backend uses exercised on the CPU (registration.py
registers the ones that need it; cuda joins where a GPU is visible). Plugin authors run the same
suite with `deeplink test-backend NAME`."""
import deeplink

from deeplink.contract.test_device import *  # noqa: F401,F403
from deeplink.contract.test_kernels import *  # noqa: F401,F403
from deeplink.contract.test_runtime import *  # noqa: F401,F403

CONTRACT_PLUGINS = ["registration:register"]
CONTRACT_BACKENDS = ["cpu", "onnxruntime", "ascend", "aten-cpu"] + \
    (["cuda"] if deeplink._registry.get("cuda").available else [])

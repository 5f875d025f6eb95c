import os

from deeplink.contract.plugin import BACKENDS_VARIABLE, PLUGINS_VARIABLE

# Every in-tree backend that runs without special hardware (cuda joins where a GPU is visible), and
# the ATen-device runtime on the CPU; registration.py registers the ones that need registering.
os.environ.setdefault(BACKENDS_VARIABLE, "cpu,onnxruntime,ascend,aten-cpu")
os.environ.setdefault(PLUGINS_VARIABLE, "registration:register")

"""The C kernel headers (csrc/include/deeplink/kernel.h, dlpack_abi.h) against the DLPack standard
(PyTorch's copy of the official dlpack.h) and against what deeplink.ckernel declares to cffi."""
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import torch

from deeplink import ckernel

from .plugin_env import HERE

OFFICIAL = Path(torch.__file__).parent / "include" / "ATen" / "dlpack.h"


def _layout(tmp_path, label, *flags):
    exe = tmp_path / f"layout_{label}"
    cc = shlex.split(os.environ.get("CC", "cc"))
    proc = subprocess.run([*cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ckernel.include_dir()}",
                           *flags, str(HERE / "abi_layout.c"), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout)


def test_layout_and_values_match_the_official_dlpack_header(tmp_path):
    if not OFFICIAL.exists():
        pytest.skip(f"this torch ships no {OFFICIAL}")
    ours = _layout(tmp_path, "ours")
    official = _layout(tmp_path, "official", "-DUSE_OFFICIAL_DLPACK", f"-I{OFFICIAL.parent.parent}")
    assert ours == official
    assert ours["sizeof DLTensor"] == 48 and ours["DLTensor.byte_offset"] == 40


def test_python_constants_and_cffi_declarations_match_the_headers(tmp_path):
    c = _layout(tmp_path, "ours")
    assert c["DL_KERNEL_ABI_VERSION"] == ckernel.KERNEL_ABI_VERSION
    assert c["DL_DEVICE_DEEPLINK"] == ckernel.DEEPLINK_DEVICE_TYPE == c["kDLExtDev"]
    assert c["kDLCPU"] == ckernel.KDL_CPU
    assert {name: c[name] for name in ckernel.STATUS_NAMES.values()} == \
        {name: value for value, name in ckernel.STATUS_NAMES.items()}
    ffi = ckernel.ffi
    for struct in ("DLTensor", "dl_tensor_arg"):  # the call path fills dl_tensor_arg: same bytes
        assert ffi.sizeof(struct) == c["sizeof DLTensor"]
        for field in ("data", "device", "ndim", "dtype", "shape", "strides", "byte_offset"):
            assert ffi.offsetof(struct, field) == c[f"DLTensor.{field}"], (struct, field)
    codes = {"kDLInt": 0, "kDLUInt": 1, "kDLFloat": 2, "kDLBfloat": 4, "kDLComplex": 5, "kDLBool": 6,
             "kDLFloat8_e4m3fn": 10, "kDLFloat8_e5m2": 12}
    assert all(c[k] == v for k, v in codes.items())
    assert ckernel.DTYPE_CODES[torch.float32] == (c["kDLFloat"], 32)
    assert ckernel.DTYPE_CODES[torch.bfloat16] == (c["kDLBfloat"], 16)
    assert ckernel.DTYPE_CODES[torch.bool] == (c["kDLBool"], 8)
    assert ckernel.DTYPE_CODES[torch.complex64] == (c["kDLComplex"], 64)


def test_kernel_header_compiles_as_cpp(tmp_path):
    src = tmp_path / "k.cpp"
    src.write_text('#include <deeplink/kernel.h>\nDL_KERNEL_LIBRARY()\n'
                   'DL_KERNEL_EXPORT dl_status k(DLTensor* out) { return dl_kernel_fail(DL_ERROR, "%d", out->ndim); }\n')
    cxx = shlex.split(os.environ.get("CXX", "c++"))
    proc = subprocess.run([*cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           f"-I{ckernel.include_dir()}", str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

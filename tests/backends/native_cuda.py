"""Native CUDA references computed in a child process that never imports deeplink.

Once a PrivateUse1 backend is registered, torch takes it as *the* accelerator, and a backward pass
over native CUDA tensors in that process trips an internal assert of the autograd engine
(pytorch/pytorch#161129, see docs/backends/cuda.md). Tests that compare against native CUDA training or
gradients therefore compute the reference here. `deeplink/models.py` is loaded by file path so
that the deeplink package (and its device registration) is never imported."""
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = f"""
import importlib.util, torch
_spec = importlib.util.spec_from_file_location("dl_models", {str(ROOT / "deeplink" / "models.py")!r})
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)
"""


def run_native(code: str):
    """Run `code` (which sets `result`) in a fresh interpreter; return `result`."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "result.pt"
        program = PRELUDE + code + f"\ntorch.save(result, {str(out)!r})\n"
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"native CUDA reference failed:\n{run.stderr[-3000:]}"
        assert "deeplink" not in run.stdout
        return torch.load(out)

"""A CUDA script that fails: with the exit status it is given, or with an exception."""
import sys

import torch

x = torch.ones(2, device="cuda")
if sys.argv[1] == "exit":
    sys.exit(int(sys.argv[2]))
raise RuntimeError(f"planted failure on {x.device}")

"""A program that ends while autograd's device thread still releases its last backward's graph:
releasing the graph's final callback lets go of the GIL for half a second (as any __del__ can), so
the main thread reaches interpreter shutdown before the device thread is done. Without deeplink's
exit hook (deeplink/_exit.py) this aborts every time with "terminate called without an active
exception". Run by tests/reliability/test_clean_exit.py and scripts/fault_table.py (exit- rows)."""
import time

import torch

import deeplink  # noqa: F401


class SlowToDie:
    def __call__(self):
        pass

    def __del__(self):
        time.sleep(0.5)


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        torch.autograd.Variable._execution_engine.queue_callback(SlowToDie())
        return g * 2


x = torch.ones(3, device="deeplink", requires_grad=True)
Double.apply(x).sum().backward()
print("RESULT: backward done, grad", x.grad.cpu().tolist())

"""A CUDA script whose work runs in a child process started with the 'spawn' method (as
torch.multiprocessing.spawn and DataLoader workers with spawn do): the child must see CUDA
compatibility too. Prints one JSON line."""
import json

import torch
import torch.multiprocessing as mp


def child(queue):
    x = torch.ones(3, device="cuda") * 2
    queue.put({"available": torch.cuda.is_available(), "device": str(x.device), "sum": x.sum().item()})


if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=child, args=(queue,))
    p.start()
    seen = queue.get(timeout=120)
    p.join(timeout=60)
    print(json.dumps({"child": seen, "exitcode": p.exitcode}))

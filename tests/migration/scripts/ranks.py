"""A multi-process script written for CUDA under torchrun: each rank takes the GPU of its local rank
(torch.cuda.set_device(local_rank)), and, where torch.distributed has the deeplink backend,
initialises NCCL and all-reduces. Prints one JSON line per rank."""
import json
import os

import torch
import torch.distributed as dist

local_rank = int(os.environ["LOCAL_RANK"])
torch.cuda.set_device(local_rank)
device = torch.device("cuda", local_rank)
x = torch.full((4,), float(local_rank + 1), device=device)
result = {"rank": int(os.environ["RANK"]), "device": str(x.device), "current": torch.cuda.current_device(),
          "nccl_available": dist.is_nccl_available()}
if dist.is_nccl_available():
    dist.init_process_group("nccl")
    dist.all_reduce(x)
    result["all_reduce"] = x.tolist()
    result["backend"] = dist.get_backend()
    dist.destroy_process_group()
print(json.dumps(result), flush=True)

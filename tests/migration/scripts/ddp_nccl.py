"""DDP training written for CUDA under torchrun with init_process_group("nccl"). Prints one JSON
line per rank: its device, the process group backend and the losses."""
import json
import os

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group(backend="nccl")
local_rank = int(os.environ["LOCAL_RANK"])
torch.cuda.set_device(local_rank)
torch.manual_seed(0)
model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)).cuda(), device_ids=[local_rank])
opt = torch.optim.SGD(model.parameters(), lr=0.1)
g = torch.Generator().manual_seed(dist.get_rank())
x, y = torch.randn(16, 8, generator=g).cuda(), torch.randn(16, 1, generator=g).cuda()
losses = []
for _ in range(3):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
weights = [p.detach().cpu().sum().item() for p in model.parameters()]
print(json.dumps({"rank": dist.get_rank(), "device": str(next(model.parameters()).device),
                  "backend": dist.get_backend(), "losses": losses, "weights": weights}), flush=True)
dist.destroy_process_group()

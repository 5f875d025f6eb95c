"""A plain PyTorch training loop written for CUDA, the way scripts in the wild are (run unmodified
by tests/migration/test_scripts.py under `deeplink run`). Prints one JSON line of what it saw."""
import json
import os
import sys
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.backends.cudnn.benchmark = True
torch.backends.cudnn.deterministic = False
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True

use_cuda = torch.cuda.is_available()
device = torch.device("cuda" if use_cuda else "cpu")
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)
if use_cuda:
    torch.cuda.set_device(0)
    print(f"GPU: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible), "
          f"capability {torch.cuda.get_device_capability()}", file=sys.stderr)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.LayerNorm(64), nn.Linear(64, 4))

    def forward(self, x):
        return self.body(x)


model = Net().cuda()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
data = TensorDataset(torch.randn(256, 16), torch.randint(0, 4, (256,)))
loader = DataLoader(data, batch_size=32, shuffle=True, pin_memory=True, num_workers=0)
criterion = nn.CrossEntropyLoss().to(device)

start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
stream = torch.cuda.Stream()
losses = []
start.record()
for epoch in range(3):
    for x, y in loader:
        pinned = x.is_pinned()
        x, y = x.cuda(non_blocking=True), y.to(device, non_blocking=True)
        with torch.cuda.stream(stream):
            loss = criterion(model(x), y)
        torch.cuda.current_stream().wait_stream(stream)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    losses.append(loss.item())
end.record()
torch.cuda.synchronize()

ckpt = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
torch.save({"model": model.state_dict(), "opt": optimizer.state_dict()}, ckpt)
state = torch.load(ckpt, map_location="cuda")
restored = Net().to("cuda:0")
restored.load_state_dict(state["model"])
same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), restored.state_dict().values()))

props = torch.cuda.get_device_properties(0)
print(json.dumps({
    "device": str(next(model.parameters()).device), "is_cuda": next(model.parameters()).is_cuda,
    "loss_first": losses[0], "loss_last": losses[-1], "pinned_batches": pinned,
    "loaded_device": str(state["model"]["body.0.weight"].device), "restored_equal": same,
    "memory_allocated": torch.cuda.memory_allocated(), "max_memory_allocated": torch.cuda.max_memory_allocated(),
    "elapsed_ms": start.elapsed_time(end), "props": [props.name, props.major, props.total_memory > 0],
    "rng_state_bytes": int(torch.cuda.get_rng_state().numel()), "argv": sys.argv[1:],
}))

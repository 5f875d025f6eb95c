"""Mixed-precision training written for CUDA: torch.autocast("cuda"), torch.cuda.amp.autocast(),
torch.amp.autocast(device_type="cuda"), GradScaler in its three spellings, custom_fwd. Prints one
JSON line."""
import json

import torch
import torch.nn as nn

device = "cuda"
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8)).to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
scaler = torch.amp.GradScaler("cuda", init_scale=2.0 ** 10)
legacy_scaler = torch.cuda.amp.GradScaler()
default_scaler = torch.amp.GradScaler()


class Square(torch.autograd.Function):
    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


x, y = torch.randn(64, 32, device=device), torch.randn(64, 8, device=device)
dtypes, losses = {}, []
for step in range(4):
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        out = model(x)
        dtypes["autocast_out"] = str(out.dtype)
        dtypes["autocast_enabled"] = torch.is_autocast_enabled("cuda")
        dtypes["custom_fwd_out"] = str(Square.apply(out).dtype)
        loss = nn.functional.mse_loss(out.float(), y)
    opt.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    losses.append(loss.item())
with torch.cuda.amp.autocast(dtype=torch.bfloat16):
    dtypes["legacy_autocast_out"] = str(model(x).dtype)
with torch.amp.autocast("cuda", enabled=False):
    dtypes["disabled_out"] = str(model(x).dtype)
print(json.dumps({"dtypes": dtypes, "losses": losses, "scale": scaler.get_scale(),
                  "scaler_devices": [scaler._device, legacy_scaler._device, default_scaler._device],
                  "bf16_supported": torch.cuda.is_bf16_supported()}))

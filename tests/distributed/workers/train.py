"""Trains the small LLaMA-style model (deeplink.models.tiny_model, random weights) for a few AdamW
steps with DDP or FSDP2 on deeplink tensors, each rank on its slice of one global batch; or, with
--mode single, in one process (no torch.distributed) on the whole batch: the reference.

Rank 0 writes losses.json (the global loss per step: the mean of the ranks' losses, which is the
loss on the whole batch) and params.pt (the final parameters on the CPU); every rank writes
rank<R>.json with its collective paths and op fallbacks.
"""
from __future__ import annotations

import json
from pathlib import Path

import common
import torch


def batches(steps: int, global_batch: int, seq: int):
    g = torch.Generator().manual_seed(1234)
    return [torch.randint(0, 128, (global_batch, seq), generator=g) for _ in range(steps)]


def wrap(model, mode: str):
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model)
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard
        for layer in model.model.layers:
            fully_shard(layer)
        return fully_shard(model)
    return model


def full_params(model, mode: str) -> dict:
    if mode == "ddp":
        model = model.module
    out = {}
    for name, p in model.state_dict().items():
        if mode == "fsdp":
            p = p.full_tensor()
        out[name] = p.detach().cpu().clone()
    return out


def main():
    p = common.parser(__doc__)
    p.add_argument("--mode", choices=["ddp", "fsdp", "single"], required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--global-batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=16)
    args = p.parse_args()
    import deeplink
    from deeplink.models import tiny_model

    if args.mode == "single":
        deeplink.use(args.backend)
        rank, size = 0, 1
    else:
        rank, size = common.start(args)
    import torch.distributed as dist

    model = wrap(tiny_model("llama").to("deeplink"), args.mode)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    losses = []
    per = args.global_batch // size
    for ids in batches(args.steps, args.global_batch, args.seq):
        local = ids[rank * per:(rank + 1) * per].to("deeplink")
        loss = model(input_ids=local, labels=local).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        mean = loss.detach().clone()
        if size > 1:
            dist.all_reduce(mean, op=dist.ReduceOp.AVG)
        losses.append(mean.item())
    params = full_params(model, args.mode)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        (out / "losses.json").write_text(json.dumps(losses))
        torch.save(params, out / "params.pt")
    report = {"rank": rank, "backend": deeplink.current_backend(), "fallbacks": deeplink.fallback_stats()}
    if size > 1:
        report.update(stats=deeplink.distributed.collective_stats(), describe=deeplink.distributed.describe())
        dist.destroy_process_group()
    common.write(args, report)


if __name__ == "__main__":
    main()

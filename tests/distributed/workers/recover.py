"""A training job that survives losing a rank: FSDP2 (or DDP) on deeplink tensors, checkpointed
with torch.distributed.checkpoint every --ckpt-every steps, run under `torchrun --max-restarts`.

A checkpoint holds the model and optimizer (DCP's sharded state dicts), the data position (the
step and the batch sampler's generator), and every rank's RNG states (CPU and deeplink; a dropout
on the embeddings draws from the deeplink generator every step, so a resume that forgot them
would not be bit-identical). Each checkpoint is a fresh directory ckpt/step_NNNNN; DCP writes its
.metadata last, through a temporary file and a rename, so a directory without .metadata is an
interrupted save: resuming skips it (and removes it).

A job may resume on a different number of ranks than saved (an elastic job that lost or gained
a node): DCP reshards the model and optimizer; RNG states are per rank, so a rank the checkpoint
has none for keeps its fresh seed (--dropout 0 makes such a run comparable to an uninterrupted one).

Files written under --out:
    progress/rank<R>.json   pid, last finished step, restart count (rewritten after each step)
    events.jsonl            rank 0's record: start, resume (from which step, when), end
    final.pt                the final parameters (rank 0)
--die-during-save STEP makes rank 1 kill itself (SIGKILL) halfway through writing the checkpoint
of STEP, on the first attempt only: the test of an interrupted save.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import common
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

RESTART = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def latest_checkpoint(root: Path):
    done = sorted(d for d in root.glob("step_*") if (d / ".metadata").exists())
    return done[-1] if done else None


def remove_interrupted(root: Path, rank: int) -> None:
    if rank != 0:
        return
    import shutil
    for d in root.glob("step_*"):
        if not (d / ".metadata").exists():
            shutil.rmtree(d, ignore_errors=True)


def rng_state(rank: int) -> dict:
    return {f"rng_rank{rank}": {"cpu": torch.get_rng_state(), "deeplink": torch.deeplink.get_rng_state()}}


def training_state(model, opt, step, sampler, size, rank) -> dict:
    model_sd, optim_sd = get_state_dict(model, opt)
    return {"model": model_sd, "optim": optim_sd, "step": step, "sampler": sampler.get_state(), "world_size": size,
            **rng_state(rank)}


def load_checkpoint(path: Path, model, opt, sampler, size, rank, group) -> tuple:
    """Loads `path` into the model, optimizer, sampler and RNGs; returns (step, saved world size)."""
    state = training_state(model, opt, 0, sampler, 0, rank)
    rng_key = next(iter(rng_state(rank)))
    saved_keys = dcp.FileSystemReader(str(path)).read_metadata().state_dict_metadata
    if not any(k.startswith(rng_key + ".") for k in saved_keys):
        del state[rng_key]  # saved by fewer ranks: this rank keeps its seed
    dcp.load(state, checkpoint_id=str(path), process_group=group)
    set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
    sampler.set_state(state["sampler"])
    if rng_key in state:
        torch.set_rng_state(state[rng_key]["cpu"])
        torch.deeplink.set_rng_state(state[rng_key]["deeplink"])
    return state["step"], state["world_size"]


class DyingWriter(dcp.FileSystemWriter):
    """Writes half of this rank's checkpoint files, then SIGKILLs its own process."""

    def write_data(self, plan, planner):
        fut = super().write_data(plan, planner)
        fut.wait()
        os.kill(os.getpid(), signal.SIGKILL)
        return fut


def event(args, rank, **fields):
    if rank == 0:
        with open(Path(args.out) / "events.jsonl", "a") as f:
            f.write(json.dumps({"time": time.time(), "restart": RESTART, **fields}) + "\n")


def progress(args, rank, step):
    d = Path(args.out) / "progress"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f"rank{rank}.tmp"
    tmp.write_text(json.dumps({"pid": os.getpid(), "step": step, "restart": RESTART, "time": time.time()}))
    os.replace(tmp, d / f"rank{rank}.json")


def main():
    p = common.parser(__doc__)
    p.add_argument("--mode", choices=["ddp", "fsdp"], default="fsdp")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=2)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--async-save", action="store_true")
    p.add_argument("--step-delay", type=float, default=0.0, help="seconds of sleep per step (to kill mid-run)")
    p.add_argument("--die-during-save", type=int, default=-1)
    p.add_argument("--dropout", type=float, default=0.1, help="on the embeddings (draws from the deeplink RNG)")
    args = p.parse_args()
    rank, size = common.start(args)
    import deeplink
    from deeplink.models import tiny_model
    from train import full_params, wrap

    Path(args.out).mkdir(parents=True, exist_ok=True)
    event(args, rank, what="start")
    root = Path(args.ckpt)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = wrap(tiny_model("llama").to("deeplink"), args.mode)
    embed = (model.module if args.mode == "ddp" else model).model.embed_tokens
    embed.register_forward_hook(lambda m, i, out: torch.nn.functional.dropout(out, args.dropout, training=True))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    sampler = torch.Generator().manual_seed(1234)
    torch.deeplink.manual_seed(100 + rank)
    step = 0
    # Checkpoint traffic (async saves run it on a thread) in a group of its own, apart from training's.
    ckpt_group = dist.new_group(backend="deeplink")

    remove_interrupted(root, rank)
    dist.barrier()
    last = latest_checkpoint(root)
    if last is not None:
        step, saved_size = load_checkpoint(last, model, opt, sampler, size, rank, ckpt_group)
        event(args, rank, what="resumed", step=step, checkpoint=last.name, saved_by_ranks=saved_size, ranks=size)

    pending = None
    per = 8 // size
    while step < args.steps:
        ids = torch.randint(0, 128, (8, 16), generator=sampler)
        local = ids[rank * per:(rank + 1) * per].to("deeplink")
        loss = model(input_ids=local, labels=local).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        step += 1
        loss.item()
        if last is not None and step == int(last.name.split("_")[1]) + 1:
            event(args, rank, what="first resumed step", step=step)
        progress(args, rank, step)
        time.sleep(args.step_delay)
        if step % args.ckpt_every == 0 and step < args.steps:
            if pending is not None:
                pending.result()
            state = training_state(model, opt, step, sampler, size, rank)
            target = str(root / f"step_{step:05d}")
            dying = step == args.die_during_save and rank == 1 and RESTART == 0
            writer = DyingWriter(target) if dying else None
            if args.async_save and not dying:
                pending = dcp.async_save(state, checkpoint_id=target, process_group=ckpt_group)
            else:
                dcp.save(state, checkpoint_id=target, storage_writer=writer, process_group=ckpt_group)
    if pending is not None:
        pending.result()
    params = full_params(model, args.mode)
    if rank == 0:
        torch.save(params, Path(args.out) / "final.pt")
    event(args, rank, what="end", step=step)
    common.write(args, {"rank": rank, "restart": RESTART, "backend": deeplink.current_backend(),
                        "stats": deeplink.distributed.collective_stats()})
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

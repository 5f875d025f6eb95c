"""All-reduces deeplink tensors in a loop until the victim rank kills itself (SIGKILL) at
iteration --die-at, or, with --how stop, stops itself (SIGSTOP: alive, sockets open, silent, as a
hung peer is); every survivor must then fail with a clear error, within the process group's
timeout, instead of hanging. Run as plain processes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
set by the test), not under torchrun, whose agent would kill the survivors first. Each survivor
writes rank<R>.json (the error and when it came); the victim writes died.json just before dying."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import common
import torch
import torch.distributed as dist


def main():
    p = common.parser(__doc__)
    p.add_argument("--victim", type=int, required=True)
    p.add_argument("--die-at", type=int, default=20)
    p.add_argument("--how", choices=["kill", "stop"], default="kill")
    args = p.parse_args()
    rank, size = common.start(args)
    out = Path(args.out)
    x = torch.ones(1 << 16, device="deeplink")
    for i in range(10_000):
        if rank == args.victim and i == args.die_at:
            (out / "died.json").write_text(json.dumps({"time": time.time(), "iteration": i}))
            os.kill(os.getpid(), signal.SIGKILL if args.how == "kill" else signal.SIGSTOP)
        try:
            dist.all_reduce(x)
            x.fill_(1.0)
            torch.deeplink.synchronize()
        except Exception as e:  # noqa: BLE001  the error the survivor sees is what the test checks
            common.write(args, {"rank": rank, "iteration": i, "time": time.time(), "type": type(e).__name__,
                                "error": str(e)})
            os._exit(3)
        time.sleep(0.01)
    common.write(args, {"rank": rank, "error": None})
    os._exit(0)


if __name__ == "__main__":
    main()

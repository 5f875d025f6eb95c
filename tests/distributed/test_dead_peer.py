"""A dead peer: one rank of three is SIGKILLed in the middle of training-like collectives; every
survivor gets a clear error (naming the collective, the process group and the path) within the
configured timeout, and no process is left hanging. The HCCL variant (emulator) is slow."""
import json
import socket
import sys

import pytest

from launch import WORKERS, finish, start

TIMEOUT = 20  # the process groups' timeout, seconds
MARGIN = 25   # process scheduling on a loaded 2-core machine


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(tmp_path, size, victim, extra=()):
    port = free_port()
    procs = []
    for r in range(size):
        env = {"RANK": str(r), "WORLD_SIZE": str(size), "LOCAL_RANK": str(r), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port)}
        procs.append(start([sys.executable, str(WORKERS / "dead_peer.py"), "--victim", str(victim), "--timeout",
                            str(TIMEOUT), "--out", str(tmp_path), *extra], env))
    results = [finish(p, tag, timeout=240) for p, tag in procs]
    return results


def check_survivors(tmp_path, size, victim, results, words):
    died = json.loads((tmp_path / "died.json").read_text())
    for r in range(size):
        code, output = results[r]
        if r == victim:
            assert code == -9, output[-3000:]
            continue
        assert code == 3, f"rank {r} exit code {code} (None: hung and was killed):\n{output[-3000:]}"
        res = json.loads((tmp_path / f"rank{r}.json").read_text())
        assert res["time"] - died["time"] <= TIMEOUT + MARGIN, res
        for w in words:
            assert w in res["error"], res["error"]


def test_survivors_fail_clearly_within_the_timeout(tmp_path):
    results = run_ranks(tmp_path, 3, victim=2, extra=["--backend", "cpu"])
    check_survivors(tmp_path, 3, 2, results, ["deeplink all_reduce", "process group", "gloo:host-view", "died"])


@pytest.mark.slow
def test_survivors_fail_clearly_over_emulated_hccl(tmp_path, ascend_home):
    results = run_ranks(tmp_path, 3, victim=1,
                        extra=["--backend", "ascend", "--plugin", "ascend_emulator.plugin:register"])
    check_survivors(tmp_path, 3, 1, results, ["deeplink all_reduce", "hccl", "rank 1"])

"""A dead peer: one rank of three is SIGKILLed in the middle of training-like collectives; every
survivor gets a clear error (naming the collective, the process group and the path) within the
configured timeout, and no process is left hanging. A hung peer (SIGSTOP: its sockets stay open,
so only the timeout can catch it) and the HCCL variant (emulator) are slow."""
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
    # the victim last: a stopped one never exits by itself (finish kills it once its time is up)
    results = {r: finish(*procs[r], timeout=240) for r in range(size) if r != victim}
    results[victim] = finish(*procs[victim], timeout=1 if "stop" in extra else 240)
    return [results[r] for r in range(size)]


def check_survivors(tmp_path, size, victim, results, words, victim_code=-9):
    died = json.loads((tmp_path / "died.json").read_text())
    for r in range(size):
        code, output = results[r]
        if r == victim:
            assert code == victim_code, output[-3000:]
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
def test_survivors_of_a_hung_peer_fail_within_the_timeout(tmp_path):
    results = run_ranks(tmp_path, 3, victim=1, extra=["--backend", "cpu", "--how", "stop"])
    check_survivors(tmp_path, 3, 1, results, ["deeplink all_reduce", "process group", "timeout 20 s"],
                    victim_code=None)  # None: still stopped when finish() killed it


@pytest.mark.slow
def test_survivors_fail_clearly_over_emulated_hccl(tmp_path, ascend_home):
    results = run_ranks(tmp_path, 3, victim=1,
                        extra=["--backend", "ascend", "--plugin", "ascend_emulator.plugin:register"])
    check_survivors(tmp_path, 3, 1, results, ["deeplink all_reduce", "hccl", "rank 1"])

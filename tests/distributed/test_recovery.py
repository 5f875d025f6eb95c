"""Fault recovery under `torchrun --max-restarts`: a training job checkpointed with
torch.distributed.checkpoint (workers/recover.py) loses a rank to SIGKILL, torchrun restarts the
job, it resumes from the last complete checkpoint and ends with parameters bit-identical to an
uninterrupted run. The kill-during-save case (a half-written checkpoint must be skipped) and
resuming on another number of ranks (DCP resharding) are slow (`make test-slow`)."""
import json
import os
import signal
import time

import pytest
import torch

from launch import finish, start, torchrun, torchrun_cmd

STEPS = 6


def job_args(tmp, *extra):
    return ["--steps", STEPS, "--ckpt-every", 2, "--ckpt", tmp / "ckpt", *extra]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    torchrun("recover.py", 2, job_args(out, "--async-save"), out, timeout=600).ok()
    return torch.load(out / "final.pt")


def wait_for_step(out, rank, step, checkpoint, timeout=300):
    """Rank `rank`'s progress once it finished `step` on the first attempt and `checkpoint` is
    complete (an async save may still be writing when the step is done)."""
    path = out / "progress" / f"rank{rank}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = json.loads(path.read_text())
            if p["step"] >= step and p["restart"] == 0 and (out / "ckpt" / checkpoint / ".metadata").exists():
                return p
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"rank {rank} never reached step {step} with {checkpoint} saved")


def events(out):
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"parameters differ from the uninterrupted run: {different[:5]}"


def test_sigkill_mid_run_resumes_bit_identical(tmp_path, uninterrupted):
    proc, tag = start(torchrun_cmd("recover.py", 2, [*job_args(tmp_path, "--async-save", "--step-delay", "0.3"),
                                                   "--out", tmp_path], max_restarts=1))
    try:
        victim = wait_for_step(tmp_path, 1, 3, "step_00002")
        killed_at = time.time()
        os.kill(victim["pid"], signal.SIGKILL)
    finally:
        code, output = finish(proc, tag, timeout=600)
    assert code == 0, output[-8000:]
    ev = events(tmp_path)
    resumed = next(e for e in ev if e["what"] == "resumed")
    first = next(e for e in ev if e["what"] == "first resumed step")
    assert resumed["restart"] == 1 and resumed["checkpoint"] == "step_00002", ev
    assert ev[-1]["what"] == "end" and ev[-1]["step"] == STEPS
    assert_bit_identical(torch.load(tmp_path / "final.pt"), uninterrupted)
    print(f"recovery: kill -> first resumed step {first['time'] - killed_at:.1f} s, "
          f"steps lost {victim['step'] - resumed['step']}")


@pytest.mark.slow
def test_rank_killed_during_a_save_leaves_no_corrupt_checkpoint(tmp_path, uninterrupted):
    """Rank 1 dies halfway through writing the step-4 checkpoint: step_00004 has data files but
    no .metadata, so the restarted job resumes from step_00002, and still ends bit-identical."""
    run = torchrun("recover.py", 2, [*job_args(tmp_path, "--die-during-save", 4)], tmp_path, timeout=600,
                   max_restarts=1)
    run.ok()
    resumed = next(e for e in events(tmp_path) if e["what"] == "resumed")
    assert resumed["checkpoint"] == "step_00002", events(tmp_path)
    assert_bit_identical(torch.load(tmp_path / "final.pt"), uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [1, 4])
def test_resume_on_a_different_number_of_ranks(tmp_path, ranks):
    """An elastic job that lost (or gained) ranks: the checkpoint two ranks saved (FSDP2 shards of
    the model and optimizer) resumes on `ranks`, DCP reshards it, and the job ends where the
    two-rank job ended (fp32 tolerance: another split of the batch sums in another order)."""
    args = ["--steps", 4, "--ckpt-every", 2, "--ckpt", tmp_path / "ckpt", "--dropout", 0]
    saved, resumed = tmp_path / "two_ranks", tmp_path / "resumed"
    torchrun("recover.py", 2, args, saved, timeout=600).ok()  # checkpoints step 2, ends after step 4
    torchrun("recover.py", ranks, args, resumed, timeout=600).ok()
    resume = next(e for e in events(resumed) if e["what"] == "resumed")
    assert (resume["checkpoint"], resume["saved_by_ranks"], resume["ranks"]) == ("step_00002", 2, ranks), resume
    want, got = torch.load(saved / "final.pt"), torch.load(resumed / "final.pt")
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")

"""The runner cannot be fooled or left in a mess (issue 16): a result on the wrong device is a
mismatch, memory growth of a worker is reported (and a worker whose memory doubles is recycled),
SIGINT/SIGTERM end with one line saying how to resume and leave no worker behind, and two runs
into one --out never run cases twice."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeplink.conformance.run_lock import FolderBusy, RunLock

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def misbehaving_run(tmp_path_factory):
    """neg gives a CPU tensor; exp leaks 256 MiB a call; abs is a correct control."""
    from deeplink.conformance.runner import RunOptions, run

    out = tmp_path_factory.mktemp("misbehaving")
    opts = RunOptions(backend="misbehaving", out_dir=out, dtypes=["float32"], ops=r"^(neg|exp|abs)$", jobs=1,
                      include_llm=False, include_variants=False,  # plain samples: variants are not what is tested
                      plugins=[str(HERE / "misbehaving_backend.py")], progress=False,
                      memory_growth_mb=32)
    logged = []
    # The plain samples make only a few exp calls: 256 MiB each doubles a worker (about 370 MiB at
    # the start) for certain, where 64 MiB did only some of the time.
    os.environ["DEEPLINK_TEST_LEAK_MB"] = "256"
    try:
        return {"out": out, "logged": logged, **run(opts, log=logged.append)}
    finally:
        del os.environ["DEEPLINK_TEST_LEAK_MB"]


def test_a_result_on_the_wrong_device_is_a_mismatch(misbehaving_run):
    samples = misbehaving_run["report"]["samples"]
    neg = [s for s in samples if s["op"] == "neg"]
    fwd = [s for s in neg if s["kind"] == "forward"]
    assert fwd and all(s["status"] == "mismatch" for s in fwd)
    # The router itself rejects the kernel's CPU tensor (docs/reliability.md, section 9).
    assert "on cpu; it must be on the deeplink device" in fwd[0]["message"]
    assert fwd[0]["blame"]["ops"] == {"neg": "mismatch"}
    # The backward of neg runs neg too; autograd itself refuses the CPU gradient. Never a pass,
    # and blamed on neg.
    grad = [s for s in neg if s["kind"] == "gradients"]
    assert grad and all(s["status"] in ("mismatch", "error") and s["blame"]["ops"] == {"neg": "mismatch"}
                        for s in grad)
    assert all(s["status"] == "pass" for s in samples if s["op"] == "abs")


def test_memory_growth_is_flagged_per_case_and_a_doubled_worker_is_recycled(misbehaving_run):
    report = misbehaving_run["report"]
    memory = report["summary"]["memory"]
    exp = [s for s in report["samples"] if s["op"] == "exp" and s["kind"] == "forward"]
    assert exp and all("grew its worker's memory by" in s.get("memory_flag", "") for s in exp)
    assert {s["id"] for s in exp} <= set(memory["flagged_cases"])
    assert not any(s.get("memory_flag") for s in report["samples"] if s["op"] == "abs")
    assert memory["max_case_growth_mb"] >= 60
    # exp leaks 256 MiB per call: the worker more than doubles and is replaced.
    assert memory["worker_events"], memory
    event = memory["worker_events"][0]
    assert event["rss_mb"] >= 2 * event["baseline_mb"] and event["action"] == "recycled after its batch"
    assert any("replaced by a fresh worker" in m for m in misbehaving_run["logged"])
    assert "Memory" in (misbehaving_run["out"] / "report.md").read_text()
    # Every case still has its result after the recycling.
    assert report["summary"]["cases"]["with_result"] == report["summary"]["cases"]["total"]


def test_watch_memory_rules():
    from deeplink.conformance.pool import Pool, Worker

    pool = Pool(1, {}, 60, "/tmp", memory_growth_mb=100, recycle_factor=2.0)
    w = Worker(0, process=type("P", (), {"pid": 1})(), conn=None)
    r = pool._watch_memory(w, {"id": "a", "worker_rss_mb": 510.0, "rss_growth_mb": 10.0})
    assert w.baseline_mb == 500.0 and "memory_flag" not in r and not w.recycle
    r = pool._watch_memory(w, {"id": "b", "worker_rss_mb": 700.0, "rss_growth_mb": 190.0})
    assert "190 MiB" in r["memory_flag"] and not w.recycle
    pool._watch_memory(w, {"id": "c", "worker_rss_mb": 1000.0, "rss_growth_mb": 5.0})
    assert w.recycle and pool.memory_events[0]["last_case"] == "c" and pool.memory_events[0]["cases"] == 3
    # No figures (not Linux): nothing is claimed.
    assert pool._watch_memory(w, {"id": "d"}) == {"id": "d"}


def test_run_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    with RunLock(tmp_path, "first") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(FolderBusy, match=r"in use by another conformance run \(pid \d+ .*first"):
            RunLock(tmp_path, "second").acquire()
    assert not (tmp_path / "run.lock").exists()
    dead = _dead_pid()
    (tmp_path / "run.lock").write_text(json.dumps({"pid": dead, "host": os.uname().nodename,
                                                   "started": "x", "command": "killed -9"}))
    with RunLock(tmp_path) as lock:
        assert lock.stale_taken_over["pid"] == dead
    # A lock from another host cannot be checked: refused, with the file to delete.
    (tmp_path / "run.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "c"}))
    with pytest.raises(FolderBusy, match="delete .*run.lock"):
        RunLock(tmp_path).acquire()


def test_a_second_run_into_a_busy_out_exits_2_and_runs_nothing(tmp_path, capsys):
    from deeplink.conformance.cli import main

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "run.lock").write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename,
                                                       "started": "now", "command": "the first run"}))
        code = main(["run", "--backend", "reference", "--ops", "^abs$", "--no-gradients", "--no-llm",
                     "--jobs", "0", "--no-progress", "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and "in use by another conformance run" in err and "the first run" in err
        assert not (tmp_path / "results.jsonl").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # The owner is gone now: the next run takes the lock over and runs.
    assert main(["run", "--backend", "reference", "--ops", "^abs$", "--no-gradients", "--no-llm",
                 "--jobs", "0", "--no-progress", "--out", str(tmp_path)]) == 0
    assert "took over" in capsys.readouterr().err and not (tmp_path / "run.lock").exists()


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _workers(pid: int) -> set[int]:
    """The conformance workers of process `pid` (multiprocessing spawn children; not its resource
    tracker, which multiprocessing ends by itself once the parent is gone)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid and b"spawn_main" in cmdline:
                out.add(int(entry.name))
    return out


def test_sigterm_in_process_gives_one_line_and_the_exact_resume_command(tmp_path, capsys, monkeypatch):
    """Fast form of the test below: --jobs 0, the plugin's kernel SIGTERMs its own process."""
    from deeplink.conformance.cli import main

    argv = ["run", "--backend", "reference", "--ops", "^add$", "--no-gradients", "--no-llm", "--jobs", "0",
            "--no-progress", "--out", str(tmp_path), "--plugin", str(HERE / "signal_kernel.py")]
    monkeypatch.setattr(sys, "argv", ["deeplink", "conformance", *argv])
    previous = signal.getsignal(signal.SIGTERM)
    assert main(argv) == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous          # handlers restored
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err + out, err
    assert re.search(r"stopped by SIGTERM: 2 of \d+ cases finished, results in .*results.jsonl; "
                     r"resume with: deeplink conformance run --backend reference ", err), err
    assert shlex.split(err.split("resume with: ")[1]) == ["deeplink", "conformance", *argv]
    assert not (tmp_path / "run.lock").exists()


@pytest.mark.slow   # two real runs with worker processes per signal: ~1 min each on 2 loaded cores
@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the worker processes through /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_run_with_one_resume_line_and_no_workers_left(tmp_path, sig):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "deeplink", "conformance", "run", "--backend", "reference",
           "--ops", "^(add|mul|sum|sin)$", "--no-gradients", "--no-llm", "--jobs", "2", "--no-progress", "--out", str(out),
           "--plugin", str(HERE / "slow_kernel.py")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        results = out / "results.jsonl"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and len(results.read_text().splitlines()) >= 3:    # header + 2 cases
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        workers = _workers(proc.pid)
        assert len(workers) == 2
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    line = lines[-1]
    assert f"stopped by {signal.Signals(sig).name}:" in line and f"results in {out / 'results.jsonl'}" in line
    finished, total = (int(x) for x in re.search(r": (\d+) of (\d+) cases finished", line).groups())
    assert 2 <= finished < total
    resume = shlex.split(line.split("; resume with: ", 1)[1])
    assert resume == cmd
    assert not [p for p in workers if _running(p)], "workers left running"
    assert not (out / "run.lock").exists()
    # The printed command, run as printed, resumes: only what is left runs.
    done = subprocess.run(resume, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {finished} of {total} cases already done" in done.stderr

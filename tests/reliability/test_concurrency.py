"""Routes are immutable once published: ops keep running correctly while other threads switch
backends, change the fallback mode and argument checks, and empty the cache (stress_switch.py,
bounded in time, in a subprocess with a timeout so that a segfault or a deadlock fails cleanly)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

STRESS = Path(__file__).resolve().parent / "stress_switch.py"


def _stress(seconds: float, workers: int) -> dict:
    env = dict(os.environ)
    env.pop("DEEPLINK_BACKEND", None)
    proc = subprocess.Popen([sys.executable, str(STRESS), str(seconds), str(workers)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"deadlock: the stress run did not end {seconds:.0f} s + 120 s after it started\n{err[-3000:]}")
    assert proc.returncode == 0, (f"the stress run died: exit {proc.returncode}"
                                  f"{' (' + signal.Signals(-proc.returncode).name + ')' if proc.returncode < 0 else ''}"
                                  f"\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def test_switching_backends_while_ops_run():
    result = _stress(5, 4)
    assert result["n_failures"] == 0, result["failures"]
    assert result["ops"] > 100 and result["switches"] > 20, result

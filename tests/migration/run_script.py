"""Run a script under `deeplink run` in a fresh process (with a timeout) and read the JSON lines it
prints."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = Path(__file__).resolve().parents[2]


def deeplink_run(script: str, *script_args: str, options=(), timeout: float = 300, launcher=None, env=None):
    """CompletedProcess of `python -m deeplink run OPTIONS <script of tests/migration/scripts> ARGS`."""
    cmd = launcher or [sys.executable, "-m", "deeplink", "run"]
    full_env = {**os.environ, "DEEPLINK_FALLBACK": "warn", **(env or {})}
    return subprocess.run([*cmd, *options, str(SCRIPTS / script), *script_args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=full_env)


def json_lines(proc) -> list[dict]:
    """Every JSON object the script printed. Ranks of a torchrun job share one stdout, so two ranks'
    lines can arrive glued together ("{...}{...}"); objects are decoded one after another."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    decoder = json.JSONDecoder()
    out = []
    for line in proc.stdout.splitlines():
        pos = line.find("{")
        while pos != -1:
            try:
                obj, end = decoder.raw_decode(line, pos)
            except json.JSONDecodeError:
                pos = line.find("{", pos + 1)
                continue
            if isinstance(obj, dict):
                out.append(obj)
            pos = line.find("{", end)
    assert out, f"no JSON line in the output:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return out

"""The backend contract suite: the checks every deeplink backend must pass, in-tree or plugin.

    deeplink test-backend NAME [--plugin MODULE:FUNCTION] [-- PYTEST ARGS]

runs it against one backend (CI runs it against every in-tree backend: tests/contract/). The
checks are pytest tests, one module per part of the contract:

    test_runtime.py   memory, copies in every direction and layout, streams, events, statistics
    test_device.py    what users do with tensors on the device: create, view, print, mutate,
                      differentiate, seed, save, and the errors they must get
    test_kernels.py   a fixed sample of common ops: every op the backend claims runs natively
                      (DEEPLINK_FALLBACK=error) and agrees with ATen on the CPU

The backends under test come from `--deeplink-backend NAME` (repeatable) or DEEPLINK_CONTRACT_BACKENDS
(comma-separated); `--deeplink-plugin MODULE:FUNCTION` (or DEEPLINK_CONTRACT_PLUGINS) is called
first, for backends a plugin registers at run time (tests/ascend_emulator/plugin.py).
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(backends: list[str], plugins: list[str] = (), pytest_args: list[str] = ()) -> int:
    """Run the suite against `backends`; returns pytest's exit code."""
    try:
        import pytest
    except ImportError:
        raise SystemExit("deeplink test-backend needs pytest: pip install 'deeplink[test]'") from None
    args = [str(HERE), "-p", "deeplink.contract.plugin", "-p", "no:cacheprovider", "--rootdir", str(HERE),
            "-q", *[f"--deeplink-backend={b}" for b in backends], *[f"--deeplink-plugin={p}" for p in plugins],
            *pytest_args]
    return int(pytest.main(args))

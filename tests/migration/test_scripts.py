"""CUDA programs, written the way they are written in the wild (tests/migration/scripts/), run
unmodified under `deeplink run` in fresh processes."""
import shutil

import pytest
import torch.distributed as dist

from migration.run_script import deeplink_run, json_lines


def test_plain_training_loop():
    """Device strings, .cuda(), torch.cuda.* (seed, set_device, name, capability, properties,
    memory, streams, events, RNG), DataLoader pinning, non_blocking, torch.save/torch.load with
    map_location="cuda", torch.backends flags; through the `deeplink` console script."""
    exe = shutil.which("deeplink")
    launcher = [exe, "run"] if exe else None
    r = json_lines(deeplink_run("plain_loop.py", "--flag", "v", launcher=launcher))[-1]
    assert r["device"] == "deeplink:0" and r["is_cuda"] and r["loaded_device"] == "deeplink:0"
    assert r["loss_last"] < r["loss_first"] and r["restored_equal"] and r["pinned_batches"]
    assert r["memory_allocated"] > 0 and r["max_memory_allocated"] >= r["memory_allocated"]
    assert r["elapsed_ms"] > 0 and r["props"][1] in (7, 8) and r["props"][2] and r["rng_state_bytes"] > 0
    assert r["argv"] == ["--flag", "v"]


def test_amp_autocast_and_gradscaler():
    r = json_lines(deeplink_run("amp_gradscaler.py"))[-1]
    d = r["dtypes"]
    assert d["autocast_out"] == "torch.float16" and d["autocast_enabled"] is True
    assert d["legacy_autocast_out"] == "torch.bfloat16" and d["disabled_out"] == "torch.float32"
    assert d["custom_fwd_out"] == "torch.float32"                  # custom_fwd(cast_inputs=float32)
    assert r["scaler_devices"] == ["deeplink"] * 3 and r["scale"] > 0
    assert r["losses"][-1] < r["losses"][0]


def test_hf_trainer_with_random_gpt2():
    """transformers' Trainer takes its GPU path (two deeplink devices of the cpu backend: it wraps
    the model in DataParallel, whose copies run through deeplink's torch.cuda.comm)."""
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason="the HF Trainer needs accelerate (pip install -e .[test])")
    r = json_lines(deeplink_run("hf_trainer.py"))[-1]
    assert r["args_device"] == "deeplink:0" and r["model_device"] == "deeplink:0" and r["n_gpu"] >= 1
    assert len(r["losses"]) == 4 and all(0 < x < 10 for x in r["losses"])


def test_spawned_child_process_inherits_the_mode():
    r = json_lines(deeplink_run("spawn_child.py"))[-1]
    assert r["exitcode"] == 0
    assert r["child"] == {"available": True, "device": "deeplink:0", "sum": 6.0}


def test_exit_status_and_exceptions_pass_through():
    assert deeplink_run("fails.py", "exit", "3").returncode == 3
    proc = deeplink_run("fails.py", "raise")
    assert proc.returncode == 1
    assert "RuntimeError: planted failure on deeplink:0" in proc.stderr


def test_torchrun_through_deeplink_run_nproc_per_node():
    rows = json_lines(deeplink_run("ranks.py", options=["--nproc-per-node", "2"]))
    assert sorted((r["rank"], r["device"], r["current"]) for r in rows) == [(0, "deeplink:0", 0), (1, "deeplink:1", 1)]
    for r in rows:
        if r["nccl_available"]:      # deeplink's c10d backend is installed: NCCL maps to it
            assert r["all_reduce"] == [3.0] * 4 and r["backend"] == "deeplink"


@pytest.mark.slow
def test_torchrun_dash_m_deeplink_run():
    import sys
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "deeplink", "run"]
    rows = json_lines(deeplink_run("ranks.py", launcher=launcher))
    assert sorted(r["device"] for r in rows) == ["deeplink:0", "deeplink:1"]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_with_nccl_under_torchrun():
    import deeplink  # noqa: F401  (registers the 'deeplink' c10d backend where this build has it)
    if "deeplink" not in dist.Backend.backend_list:
        pytest.skip("this deeplink has no c10d backend yet (issue 10, torch.distributed): NCCL has nothing to map to")
    rows = json_lines(deeplink_run("ddp_nccl.py", options=["--nproc-per-node", "2"]))
    assert {r["backend"] for r in rows} == {"deeplink"}
    assert sorted(r["device"] for r in rows) == ["deeplink:0", "deeplink:1"]
    assert rows[0]["weights"] == pytest.approx(rows[1]["weights"])   # DDP kept the replicas equal

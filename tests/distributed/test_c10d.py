"""The deeplink c10d backend inside one process (one-rank groups on a HashStore): registration,
the ways to init, the engine's handling of layouts, dtypes and reduce ops, the staging fallback
and its DEEPLINK_FALLBACK modes, clear errors, path reporting, the reusable creator, and how the
ranks of a group agree on a library. The multi-process behaviour is in the other test files."""
import json
import subprocess
import sys
import warnings
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

import deeplink
from deeplink.distributed import negotiation, stats
from deeplink.backends.cpu import CpuBackend


class NoCollectivesBackend(CpuBackend):
    """The cpu backend minus collectives: what a plugin without collectives() looks like."""
    name = "nocollectives"
    priority = -1000

    def collectives(self):
        return None


@pytest.fixture
def one_rank():
    """Yields a function that inits a one-rank group (backend string as given) on `backend`."""
    before = deeplink.current_backend()

    def init(backend="deeplink", on="cpu"):
        deeplink.use(on)
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1,
                                timeout=timedelta(seconds=30))
    yield init
    if dist.is_initialized():
        dist.destroy_process_group()
    deeplink.use(before)
    deeplink.set_fallback_mode("warn")
    deeplink.distributed.reset_collective_stats()


@pytest.fixture(scope="module")
def nocollectives():
    try:
        return deeplink._registry.get("nocollectives")
    except ValueError:
        return deeplink.register_backend(NoCollectivesBackend())


def test_registered_with_c10d():
    assert "deeplink" in dist.Backend.backend_list
    assert dist.Backend.default_device_backend_map["deeplink"] == "deeplink"
    assert set(dist.Backend.backend_capability["deeplink"]) == {"deeplink", "cpu"}


@pytest.mark.parametrize("backend", ["deeplink", None, "cpu:gloo,deeplink:deeplink"])
def test_init_forms_run_deeplink_collectives(one_rank, backend):
    one_rank(backend)
    x = torch.arange(6.0).to("deeplink")
    dist.all_reduce(x)
    dist.broadcast(x, src=0)
    out = torch.empty(6, device="deeplink")
    dist.all_gather_into_tensor(out, x)
    assert torch.equal(out.cpu(), torch.arange(6.0))
    assert deeplink.distributed.describe()["path"] == stats.HOST_VIEW
    # torch names a group made without a backend "undefined", whatever backend serves it
    assert dist.get_backend() == (backend or "undefined")
    objs = [None]
    dist.all_gather_object(objs, {"a": 1})  # CPU tensors: the group's gloo, or c10d's under a device map
    assert objs == [{"a": 1}]


def test_paths_are_counted_per_collective(one_rank):
    one_rank()
    deeplink.distributed.reset_collective_stats()
    x = torch.ones(4, device="deeplink")
    dist.all_reduce(x)
    dist.all_reduce(x)
    dist.broadcast(torch.ones(3), src=0)
    per = deeplink.distributed.collective_stats(dist.group.WORLD)
    assert per["all_reduce"][stats.HOST_VIEW] == {"calls": 2, "bytes": 32}
    assert per["broadcast"][stats.CPU]["calls"] == 1


def test_layouts_dtypes_and_reduce_ops(one_rank):
    one_rank()
    t = torch.arange(12.0).reshape(3, 4).to("deeplink").t()          # non-contiguous, written back
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert torch.equal(t.cpu(), torch.arange(12.0).reshape(3, 4).t())
    i16 = torch.tensor([1, -2, 300], dtype=torch.int16).to("deeplink")  # gloo lacks int16: widened
    dist.all_reduce(i16, op=dist.ReduceOp.MAX)
    assert torch.equal(i16.cpu(), torch.tensor([1, -2, 300], dtype=torch.int16))
    u32 = torch.tensor([1, 2], dtype=torch.uint32).to("deeplink")      # moved as bytes
    dist.broadcast(u32, src=0)
    assert torch.equal(u32.cpu(), torch.tensor([1, 2], dtype=torch.uint32))
    p = torch.ones(3, device="deeplink")
    dist.all_reduce(p, op=dist._make_nccl_premul_sum(2.5))              # gloo lacks it: scale + SUM
    assert torch.equal(p.cpu(), torch.full((3,), 2.5))
    with pytest.raises(TypeError, match="cannot be reduced"):
        dist.all_reduce(torch.ones(2, dtype=torch.uint64, device="deeplink"))
    with pytest.raises(Exception, match="AVG is not defined for bool"):
        dist.all_reduce(torch.ones(2, dtype=torch.bool, device="deeplink"), op=dist.ReduceOp.AVG)


def test_async_work_holds_the_callers_tensors(one_rank):
    one_rank()
    x = torch.ones(5, device="deeplink")
    work = dist.all_reduce(x, async_op=True)
    assert work.wait()
    assert work.result()[0].data_ptr() == x.data_ptr()
    fut = dist.all_reduce(x, async_op=True).get_future()
    assert fut.wait()[0].device.type == "deeplink"


def test_tensor_of_another_backend_is_refused_clearly(one_rank, nocollectives):
    deeplink.use("nocollectives")
    other = torch.ones(3, device="deeplink")
    one_rank(on="cpu")
    with pytest.raises(ValueError, match="'nocollectives' memory.*backend 'cpu'"):
        dist.all_reduce(other)


def test_backend_without_collectives_stages_and_warns_once(one_rank, nocollectives):
    one_rank(on="nocollectives")
    deeplink.distributed.reset_collective_stats()
    assert deeplink.distributed.describe()["path"] == stats.STAGED_FALLBACK
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = torch.arange(4.0).to("deeplink")
        dist.all_reduce(x)
        dist.all_reduce(x)
    assert torch.equal(x.cpu(), torch.arange(4.0))
    assert sum("staged through host memory" in str(w.message) for w in caught) == 1
    # reported like op fallbacks, and cleared with them
    assert deeplink.fallback_stats()["c10d::all_reduce"] == 2
    assert deeplink.distributed.collective_stats(dist.group.WORLD)["all_reduce"][stats.STAGED_FALLBACK]["calls"] == 2
    deeplink.reset_op_stats()
    assert "c10d::all_reduce" not in deeplink.fallback_stats()


def test_staging_refused_with_fallback_error(one_rank, nocollectives):
    one_rank(on="nocollectives")
    deeplink.set_fallback_mode("error")
    with pytest.raises(NotImplementedError, match="Backend.collectives\\(\\) returned None.*DEEPLINK_FALLBACK"):
        dist.all_reduce(torch.ones(2, device="deeplink"))


def test_creator_is_reusable_without_init_process_group():
    """What another front end (e.g. mapping "nccl" onto deeplink) builds a group from."""
    store = dist.HashStore()
    backend = deeplink.distributed.new_backend(store, 0, 1, timedelta(seconds=30), group_name="reused")
    pg = dist.ProcessGroup(store, 0, 1)
    pg._register_backend(torch.device("deeplink"), dist.ProcessGroup.BackendType.CUSTOM, backend)
    pg._set_default_backend(dist.ProcessGroup.BackendType.CUSTOM)
    x = torch.full((3,), 2.0, device="deeplink")
    pg.allreduce([x]).wait()
    assert torch.equal(x.cpu(), torch.full((3,), 2.0))
    assert backend.engine.describe()["group"] == "reused"
    assert backend.name() == "deeplink"


@pytest.mark.parametrize("libraries, rank, library, path", [
    (["gloo", "gloo"], 0, "gloo", None),                   # host-memory vendors: host views
    (["hccl", "hccl", "hccl"], 2, "hccl", None),           # all Ascend: HCCL
    (["gloo", "gloo", "hccl"], 2, "gloo", stats.STAGED_MIXED),
    (["gloo", "gloo", "hccl"], 0, "gloo", None),
    (["gloo", None], 1, "gloo", stats.STAGED_FALLBACK),
    ([None, None], 0, "gloo", stats.STAGED_FALLBACK),
    (["hccl", "nccl"], 1, "gloo", stats.STAGED_MIXED),
])
def test_ranks_agree_on_a_library(libraries, rank, library, path):
    offers = [{"backend": f"b{i}", "library": lib} for i, lib in enumerate(libraries)]
    decided = negotiation.decide(offers, rank)
    assert (decided["library"], decided["path"]) == (library, path)


def test_deeplink_info_shows_collectives_and_a_group_plan():
    out = subprocess.run([sys.executable, "-m", "deeplink.cli", "info", "--json", "--ranks", "cpu,onnxruntime"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout)
    cpu = next(b for b in info["backends"] if b["name"] == "cpu")
    assert cpu["collectives"]["library"] == "gloo"
    assert [r["path"] for r in info["group_plan"]["ranks"]] == [stats.HOST_VIEW, stats.HOST_VIEW]

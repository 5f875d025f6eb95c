"""CUDA compatibility mode in this process (deeplink.cuda_compat.enable/disable): what "cuda" becomes,
torch.cuda's namespace, the refusals, and that nothing changes for a process that does not ask."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import deeplink
import deeplink.cuda_compat as cuda_compat
from deeplink.cuda_compat import CudaCompatError
from deeplink.migration import cuda_namespace
from deeplink.migration.distributed import map_backend

REAL_DEVICE = torch.device
REAL_CUDA_IS_AVAILABLE = torch.cuda.is_available


@pytest.fixture
def compat():
    deeplink.use("cpu")
    cuda_compat.enable()
    try:
        yield
    finally:
        cuda_compat.disable()


def test_a_process_that_does_not_ask_is_untouched():
    code = textwrap.dedent("""
        import torch
        before = (torch.device, torch.cuda.is_available, torch.Tensor.cuda, torch.zeros, torch.autocast)
        import deeplink
        after = (torch.device, torch.cuda.is_available, torch.Tensor.cuda, torch.zeros, torch.autocast)
        assert before == after and torch.device is torch._C.device
        assert not deeplink.cuda_compat.is_enabled() if hasattr(deeplink, "cuda_compat") else True
        assert "DEEPLINK_CUDA_COMPAT" not in __import__("os").environ
        print("untouched")
    """)
    env = {k: v for k, v in os.environ.items() if k != "DEEPLINK_CUDA_COMPAT"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "untouched" in proc.stdout, proc.stderr[-2000:]


def test_disable_puts_every_name_back():
    names = [(torch, "device"), (torch, "zeros"), (torch, "load"), (torch.Tensor, "cuda"), (torch.Tensor, "to"),
             (torch.nn.Module, "cuda"), (torch.cuda, "is_available"), (torch.cuda, "device_count"),
             (torch.cuda.amp, "autocast"), (torch, "autocast"), (torch.amp, "GradScaler")]
    before = [vars(o).get(n) if isinstance(o, type) else getattr(o, n) for o, n in names]
    cuda_compat.enable("cpu")
    assert cuda_compat.is_enabled() and torch.device is not REAL_DEVICE
    cuda_compat.disable()
    after = [vars(o).get(n) if isinstance(o, type) else getattr(o, n) for o, n in names]
    assert before == after and not cuda_compat.is_enabled()
    assert torch.cuda.is_available is REAL_CUDA_IS_AVAILABLE and "is_cuda" not in vars(torch.Tensor)


def test_device_strings_indices_and_objects(compat):
    assert torch.device("cuda") == REAL_DEVICE("deeplink")
    assert torch.device("cuda:1") == REAL_DEVICE("deeplink", 1) == torch.device("cuda", 1)
    assert torch.device(type="cuda", index=0) == REAL_DEVICE("deeplink", 0)
    assert isinstance(REAL_DEVICE("cpu"), torch.device) and torch.device("cpu").type == "cpu"
    assert torch.device(0) == REAL_DEVICE("deeplink", 0)
    import pickle
    assert pickle.loads(pickle.dumps(torch.device("cuda:1"))) == REAL_DEVICE("deeplink", 1)


@pytest.mark.parametrize("make", [
    lambda d: torch.zeros(2, device=d), lambda d: torch.ones(2, 2, device=d), lambda d: torch.empty(3, device=d),
    lambda d: torch.randn(2, device=d), lambda d: torch.rand(2, device=d), lambda d: torch.randint(0, 5, (2,), device=d),
    lambda d: torch.arange(4, device=d), lambda d: torch.full((2,), 1.5, device=d), lambda d: torch.eye(2, device=d),
    lambda d: torch.linspace(0, 1, 3, device=d), lambda d: torch.tensor([1, 2], device=d),
    lambda d: torch.as_tensor([1.0], device=d), lambda d: torch.zeros_like(torch.ones(2), device=d),
    lambda d: torch.randn_like(torch.ones(2), device=d), lambda d: torch.randperm(4, device=d),
    lambda d: torch.ones(2).to(d), lambda d: torch.ones(2).to(device=d, dtype=torch.float16),
    lambda d: torch.ones(2).to(d, non_blocking=True), lambda d: torch.ones(2).new_zeros(3, device=d),
    lambda d: torch.ones(2).new_tensor([1.0], device=d), lambda d: torch.fft.fftfreq(4, device=d),
], ids=lambda f: "")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA_OBJ", 0])
def test_factories_and_to_take_cuda_devices(compat, make, device):
    if device == "CUDA_OBJ":
        device = torch.device("cuda")
    t = make(device)
    assert t.device == REAL_DEVICE("deeplink", 0) and t.is_cuda


def test_cuda_methods_and_is_cuda(compat):
    t = torch.ones(2).cuda()
    assert t.device.type == "deeplink" and t.is_cuda and torch.ones(1).cuda(1).device.index == 1
    assert not torch.ones(1).is_cuda
    m = torch.nn.Linear(2, 2).cuda()
    assert next(m.parameters()).device.type == "deeplink"
    m.to("cuda:1")
    assert next(m.parameters()).device.index == 1
    assert torch.ones(2).type(torch.cuda.HalfTensor).dtype == torch.float16
    assert torch.ones(2).type("torch.cuda.FloatTensor").device.type == "deeplink"
    assert isinstance(torch.cuda.LongTensor([1, 2]), torch.cuda.LongTensor)
    assert torch.cuda.FloatTensor(2, 3).shape == (2, 3)
    storage = torch.UntypedStorage(8).cuda()
    assert storage.device.type == "deeplink"
    g = torch.Generator(device="cuda")
    assert g.device.type == "deeplink" and isinstance(g, torch.Generator)
    with torch.device("cuda"):
        assert torch.zeros(1).device.type == "deeplink"


def test_torch_cuda_answers_for_deeplink(compat):
    assert torch.cuda.is_available() and torch.cuda.is_initialized()
    assert torch.cuda.device_count() == torch.deeplink.device_count()
    torch.cuda.set_device("cuda:1")
    assert torch.cuda.current_device() == 1 == torch.deeplink.current_device()
    with torch.cuda.device(0):
        assert torch.cuda.current_device() == 0
    torch.cuda.set_device(0)
    x = torch.randn(100, device="cuda")
    assert torch.cuda.memory_allocated() == torch.deeplink.memory_allocated() > 0
    assert torch.cuda.memory_stats()["allocated_bytes.all.current"] > 0 and torch.cuda.mem_get_info()[1] > 0
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    s = torch.cuda.Stream()
    assert isinstance(s, torch.cuda.Stream) and s.device.type == "deeplink"
    with torch.cuda.stream(s):
        y = x * 2
    torch.cuda.current_stream().wait_stream(s)
    e = torch.cuda.Event()
    e.record()
    e.synchronize()
    torch.cuda.synchronize()
    assert float(y.sum()) == pytest.approx(float(x.sum()) * 2, rel=1e-5)
    torch.cuda.manual_seed(3)
    a = torch.randn(3, device="cuda")
    torch.cuda.manual_seed(3)
    assert torch.equal(a, torch.randn(3, device="cuda"))
    state = torch.cuda.get_rng_state()
    torch.cuda.set_rng_state(state)
    assert len(torch.cuda.default_generators) == torch.deeplink.device_count()
    assert torch.cuda.get_device_name().startswith("deeplink:0")
    major, minor = torch.cuda.get_device_capability()
    props = torch.cuda.get_device_properties(0)
    assert (props.major, props.minor) == (major, minor) and props.total_memory > 0
    assert torch.cuda.get_arch_list() == [] and torch.cuda.is_bf16_supported() in (True, False)
    with torch.cuda.nvtx.range("region"):
        torch.cuda.nvtx.range_push("inner")
        torch.cuda.nvtx.range_pop()


def test_every_torch_cuda_callable_is_mapped_accepted_or_refused(compat):
    """No public torch.cuda callable reaches a CUDA that is not there: each is deeplink's, an
    adapter, accepted with no effect, refused, or an exception class."""
    import types
    from deeplink.migration.mode import _patches
    for name in dir(torch.cuda):
        if name.startswith("_"):
            continue
        value = getattr(torch.cuda, name)
        original = _patches.original(torch.cuda, name)
        if isinstance(value, types.ModuleType) or not callable(original):
            continue
        if isinstance(original, type) and issubclass(original, BaseException):
            assert value is original
            continue
        if not getattr(original, "__module__", "").startswith("torch.cuda"):
            continue   # typing helpers and imported utilities
        assert value is not original, f"torch.cuda.{name} is left as CUDA's"


@pytest.mark.parametrize("call", [
    lambda: torch.cuda.CUDAGraph(), lambda: torch.cuda.graph(None), lambda: torch.cuda.make_graphed_callables(None, ()),
    lambda: torch.cuda.utilization(), lambda: torch.cuda.current_blas_handle(), lambda: torch.cuda.MemPool(),
    lambda: torch.cuda.memory_snapshot(), lambda: torch.cuda.FloatStorage(2),
])
def test_cuda_only_calls_raise_naming_the_call_and_backend(compat, call):
    with pytest.raises(CudaCompatError, match=r"torch\.cuda\.\w+: .*backend 'cpu'"):
        call()


def test_accepted_calls_warn_once(compat):
    with pytest.warns(UserWarning, match="no effect"):
        torch.cuda.set_per_process_memory_fraction(0.5)
    torch.cuda.ipc_collect  # noqa: B018  (accepted too)


def test_refused_types_still_work_in_annotations(compat):
    annotation = torch.cuda.CUDAGraph | None
    assert annotation is not None


def test_custom_cuda_extensions_are_refused(compat):
    from torch.utils import cpp_extension
    with pytest.raises(CudaCompatError, match="load_inline.*CUDA sources.*backend 'cpu'"):
        cpp_extension.load_inline("ext", cpp_sources="", cuda_sources="__global__ void k() {}")
    with pytest.raises(CudaCompatError, match="cpp_extension.load:.*backend 'cpu'"):
        cpp_extension.load("ext", ["kernel.cu"])
    with pytest.raises(CudaCompatError, match="CUDAExtension"):
        cpp_extension.CUDAExtension("ext", ["kernel.cu"])


def test_triton_launches_are_refused(compat, tmp_path, monkeypatch):
    """A stand-in for the triton package with its launch entry point (triton itself needs a GPU
    build): importing it in compatibility mode makes kernel launches refuse."""
    pkg = tmp_path / "triton"
    (pkg / "runtime").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "runtime" / "__init__.py").write_text("")
    (pkg / "runtime" / "jit.py").write_text(
        "class JITFunction:\n    def __init__(self, fn): self.fn = fn\n"
        "    def run(self, *a, **k): return 'launched'\n"
        "    def __getitem__(self, grid): return lambda *a, **k: self.run(*a, grid=grid, **k)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for m in [m for m in sys.modules if m == "triton" or m.startswith("triton.")]:
        monkeypatch.delitem(sys.modules, m)
    from deeplink.migration.mode import _patch_triton
    import triton.runtime.jit as jit  # noqa: E402
    _patch_triton()   # what the import hook does when triton is imported after enable()

    def add_kernel(x):
        pass
    with pytest.raises(CudaCompatError, match="Triton kernel 'add_kernel' launch.*backend 'cpu'"):
        jit.JITFunction(add_kernel)[(1,)](torch.ones(1, device="cuda"))


def test_autocast_and_state_functions(compat):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert torch.is_autocast_enabled() and torch.is_autocast_enabled("cuda")
        assert torch.get_autocast_dtype("cuda") == torch.bfloat16
        assert (torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")).dtype == torch.bfloat16
    assert torch.get_autocast_gpu_dtype() == torch.get_autocast_dtype("deeplink")
    assert torch.amp.is_autocast_available("cuda")


def test_backend_flags_are_accepted_with_their_effect(compat, monkeypatch):
    """torch.backends.cuda/cudnn flags set as CUDA scripts set them; the SDPA choice flags reach
    the deeplink device: with only the math kernel allowed, no fused attention kernel runs."""
    # torch's own test utilities (imported by the device-generic tests in the same pytest worker)
    # freeze the global flags; a program run under `deeplink run` has them settable.
    monkeypatch.setitem(torch.backends.flags_frozen.__globals__, "__allow_nonbracketed_mutation_flag", True)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q = torch.randn(1, 2, 8, 4, device="cuda")
    deeplink.reset_op_stats()
    with sdpa_kernel(SDPBackend.MATH):
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert not [op for op in deeplink.op_stats() if "flash" in op or "efficient" in op]
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = False


def test_torch_load_of_a_checkpoint_saved_on_cuda(compat, tmp_path):
    """A checkpoint whose storages say "cuda:0" (written the way a GPU machine writes it) loads onto
    the deeplink device, with or without map_location="cuda"."""
    path = tmp_path / "gpu.pt"
    cuda_compat.disable()
    torch.serialization.register_package(-1, lambda obj: "cuda:0", lambda obj, loc: None)
    try:
        torch.save({"w": torch.arange(4.0)}, path)
    finally:
        torch.serialization._package_registry.pop(0)
    cuda_compat.enable("cpu")
    for kwargs in ({}, {"map_location": "cuda"}, {"map_location": torch.device("cuda:0")}):
        w = torch.load(path, **kwargs)["w"]
        assert w.device.type == "deeplink" and w.cpu().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_dataparallel_over_two_deeplink_devices(compat):
    model = torch.nn.Linear(4, 2).cuda()
    dp = torch.nn.DataParallel(model, device_ids=[0, 1])
    x = torch.randn(6, 4, device="cuda")
    out = dp(x)
    out.sum().backward()
    assert out.device == REAL_DEVICE("deeplink", 0)
    assert torch.allclose(out.cpu(), model(x).cpu(), atol=1e-6)
    assert model.weight.grad is not None


def test_nccl_backend_strings_map_to_deeplink():
    assert map_backend("nccl") == "deeplink"
    assert map_backend("cuda:nccl") == "deeplink:deeplink"
    assert map_backend("cpu:gloo,cuda:nccl") == "cpu:gloo,deeplink:deeplink"
    assert map_backend("gloo") == "gloo" and map_backend(None) is None


def test_init_process_group_nccl(compat, tmp_path):
    import torch.distributed as dist
    if "deeplink" not in dist.Backend.backend_list:
        with pytest.raises(CudaCompatError, match="init_process_group.*'deeplink'"):
            dist.init_process_group("nccl", rank=0, world_size=1, init_method=f"file://{tmp_path}/store")
        assert not dist.is_nccl_available()
        return
    dist.init_process_group("nccl", rank=0, world_size=1, init_method=f"file://{tmp_path}/store")
    try:
        t = torch.ones(2, device="cuda")
        dist.all_reduce(t)
        assert dist.get_backend() == "deeplink" and t.cpu().tolist() == [1.0, 1.0]
    finally:
        dist.destroy_process_group()


def test_deeplink_internals_keep_real_cuda(compat):
    """Code of deeplink itself (its cuda backend) calls torch.device("cuda") meaning real CUDA."""
    scope = {"__name__": "deeplink.backends.example", "torch": torch}
    exec("made = torch.device('cuda', 0)", scope)
    assert scope["made"].type == "cuda"


def test_capability_adapter_follows_bf16_support(compat, monkeypatch):
    monkeypatch.setattr(torch.deeplink, "is_bf16_supported", lambda *a: False)
    assert cuda_namespace.get_device_capability() == (7, 0)

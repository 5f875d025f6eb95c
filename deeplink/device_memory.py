"""Memory of the deeplink device, as torch.cuda reports it: statistics of deeplink's caching
allocator (flat `memory_stats()` keys named as CUDA's), a printable summary, free/total device
memory, raw allocations through the cache, and pinned host memory."""
from __future__ import annotations

import torch

from . import _C, registry
from .device_index import index_of


def memory_stats(device=None) -> dict:
    """Flat statistics, keyed as torch.cuda.memory_stats() keys them ("allocated_bytes.all.current",
    "reserved_bytes.all.peak", "allocation.all.allocated", "num_ooms", ...), plus deeplink's own
    "num_cache_hits" (allocations served from the cache) and "num_adopted" (ATen-made buffers
    taken over without a copy). Bytes are rounded block sizes, as CUDA's are."""
    return dict(sorted(_C._memory_stats(index_of(device)).items()))


def _nested(flat: dict) -> dict:
    """{"a.b.c": v} -> {"a": {"b": {"c": v}}}, as torch.cuda nests its statistics."""
    nested: dict = {}
    for key, value in flat.items():
        *path, leaf = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def memory_stats_as_nested_dict(device=None) -> dict:
    return _nested(memory_stats(device))


def memory_allocated(device=None) -> int:
    return memory_stats(device)["allocated_bytes.all.current"]


def max_memory_allocated(device=None) -> int:
    return memory_stats(device)["allocated_bytes.all.peak"]


def memory_reserved(device=None) -> int:
    return memory_stats(device)["reserved_bytes.all.current"]


def max_memory_reserved(device=None) -> int:
    return memory_stats(device)["reserved_bytes.all.peak"]


def memory_cached(device=None) -> int:
    """Deprecated name of memory_reserved (as in torch.cuda)."""
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    """Deprecated name of max_memory_reserved (as in torch.cuda)."""
    return max_memory_reserved(device)


def reset_peak_memory_stats(device=None) -> None:
    _C._reset_peak_memory_stats(index_of(device))


def reset_max_memory_allocated(device=None) -> None:
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None) -> None:
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device=None) -> None:
    """Zero the running totals ("*.allocated", "*.freed", retries, OOMs, cache hits)."""
    _C._reset_accumulated_memory_stats(index_of(device))


def empty_cache() -> None:
    """Give cached device memory back: deeplink's own pool, and, where the active backend's memory
    comes from torch's CUDA caching allocator (the cuda backend), that allocator's cache too."""
    _C._empty_cache()
    if registry._active is not None and registry._active.backend.aten_device == "cuda":
        torch.cuda.empty_cache()


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of device memory. Host-memory backends (cpu, and plugins whose runtime
    has host_accessible memory) report the machine's RAM; the cuda backend reports the GPU's."""
    return tuple(_C._mem_get_info(index_of(device)))


_ROWS = [("allocated_bytes", "Allocated memory", True), ("active_bytes", "Active memory", True),
         ("requested_bytes", "Requested memory", True), ("reserved_bytes", "Reserved memory", True),
         ("allocation", "Allocations", False), ("active", "Active allocs", False),
         ("segment", "Runtime allocations (segments)", False)]


def device_memory_used(device=None) -> int:
    """Bytes of the device's memory in use by every process (total - free of mem_get_info), as
    torch.cuda.device_memory_used reports it; for host-memory backends that is the machine's RAM."""
    free, total = mem_get_info(device)
    return total - free


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A table of the allocator statistics of one device (rows: bytes and counts; columns: current,
    peak, total allocated, total freed), like torch.cuda.memory_summary()."""
    idx = index_of(device)
    stats = memory_stats(idx)
    name = registry.active().name
    width = 78
    lines = ["=" * width, f" deeplink memory summary, device {idx} (backend '{name}')", "-" * width,
             f" {'Metric':<32}|{'Cur Usage':>11} |{'Peak Usage':>11} |{'Tot Alloc':>11} |{'Tot Freed':>8}",
             "-" * width]
    for key, label, is_bytes in _ROWS:
        fmt = _fmt_bytes if is_bytes else str
        cur, peak, alloc, freed = (stats[f"{key}.all.{k}"] for k in ("current", "peak", "allocated", "freed"))
        lines.append(f" {label:<32}|{fmt(cur):>11} |{fmt(peak):>11} |{fmt(alloc):>11} |{fmt(freed):>8}")
    if not abbreviated:
        lines += ["-" * width]
        for key in ("num_cache_hits", "num_adopted", "num_device_alloc", "num_device_free", "num_alloc_retries",
                    "num_ooms"):
            lines.append(f" {key:<32}| {stats[key]}")
    lines.append("=" * width)
    return "\n".join(lines) + "\n"


# Raw allocations through the cache (torch.cuda.caching_allocator_alloc): a pointer's storage is kept
# here until caching_allocator_delete.
_raw_blocks: dict[int, torch.UntypedStorage] = {}


def caching_allocator_alloc(size: int, device=None, stream=None) -> int:
    """Allocate `size` bytes through deeplink's caching allocator; returns the device pointer.
    `stream` is accepted for torch.cuda compatibility (blocks are not stream-bound here)."""
    storage = torch.UntypedStorage(int(size), device=torch.device("deeplink", index_of(device)))
    ptr = storage.data_ptr()
    _raw_blocks[ptr] = storage
    return ptr


def caching_allocator_delete(mem_ptr: int) -> None:
    if _raw_blocks.pop(mem_ptr, None) is None:
        raise ValueError(f"deeplink: {mem_ptr:#x} was not allocated by caching_allocator_alloc (or was freed already)")


def host_memory_stats() -> dict:
    """Pinned host memory (tensor.pin_memory(), DataLoader(pin_memory=True)): bytes held by live
    pinned tensors, bytes mapped (live + cached), and how many of those the OS page-locked."""
    return dict(_C._host_memory_stats())


def host_memory_stats_as_nested_dict() -> dict:
    return _nested(host_memory_stats())


def empty_host_cache() -> None:
    """Unmap cached pinned host blocks."""
    _C._empty_host_cache()


OutOfMemoryError = torch.OutOfMemoryError

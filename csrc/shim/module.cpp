// deeplink._C: the Python surface of the shim. Kept thin: policy lives in Python (deeplink/),
// mechanism lives here.
#include "alias.h"
#include "allocator.h"
#include "check_cache.h"
#include "device_state.h"
#include "generator.h"
#include "pinned_memory.h"
#include "python_gate.h"
#include "router.h"
#include "runtime.h"
#include "storage_ops.h"

#include <ATen/ATen.h>
#include <torch/csrc/DynamicTypes.h>
#include <torch/csrc/Generator.h>
#include <torch/extension.h>

#include <pybind11/stl.h>

namespace py = pybind11;

namespace deeplink {
void register_hooks();
void register_backend_meta();
void register_profiler();
void move_into_host_storage(const c10::Storage& storage, const c10::Storage& shared);
c10::Storage storage_from_host(const c10::Storage& shared, int backend, int device);
void set_sdp_choice(int choice, int learnable_mask_choice);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using namespace deeplink;
  register_hooks();
  register_backend_meta();
  register_profiler();

  m.def("_close_python_gate", &close_python_gate, py::arg("seconds"),
        "at exit: refuse the GIL to non-Python threads from now on, after waiting up to `seconds` for those "
        "inside (python_gate.h); True if none was left inside");
  m.def("_host_runtime_table", [] { return reinterpret_cast<uintptr_t>(host_runtime_table()); },
        "Address of the CPU reference backend's dl_runtime_v1 table.");

  m.def("_register_backend",
        [](const std::string& name, py::object runtime, py::object passthrough) {
          BackendSlot slot;
          slot.name = name;
          if (py::hasattr(runtime, "aten_device")) {
            std::string d = runtime.attr("aten_device").cast<std::string>();
            TORCH_CHECK(d == "cpu" || d == "cuda", "deeplink backend '", name, "': AtenRuntime device must be 'cpu' or 'cuda'");
            slot.runtime = make_aten_runtime(d == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
          } else if (py::hasattr(runtime, "table_address")) {
            slot.runtime = make_ctable_runtime(name, runtime.attr("table_address").cast<uintptr_t>());
          } else {
            slot.runtime = make_python_runtime(name, runtime.ptr());
          }
          if (!passthrough.is_none()) {
            std::string p = passthrough.cast<std::string>();
            TORCH_CHECK(p == "cpu" || p == "cuda", "deeplink backend '", name, "': Passthrough device must be 'cpu' or 'cuda', got '", p, "'");
            slot.passthrough = p == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
          }
          slot.device_count = slot.runtime->device_count();
          TORCH_CHECK(slot.device_count > 0, "deeplink backend '", name, "': its runtime reports 0 devices");
          return register_backend_slot(std::move(slot));
        },
        py::arg("name"), py::arg("runtime"), py::arg("passthrough") = py::none());
  m.def("_set_active_backend", [](int id) {
    set_active_backend_id(id);
    if (current_device() >= device_count()) set_current_device(0);
    invalidate_routes();
  });
  m.def("_active_backend", [] { return active_backend_id(); });
  m.def("_backend_device_count", [](int id) { return backend_slot(id).device_count; });
  m.def("_backend_host_accessible", [](int id) { return backend_slot(id).runtime->host_accessible(); });

  m.def("_set_sdp_choice", [](int c, int learnable_mask) { set_sdp_choice(c, learnable_mask); },
        "-1: ask the backend per call; else a fixed sdp::SDPBackend value; then the value for a learnable mask");
  m.def("_set_route_resolver", [](py::object fn) { set_route_resolver(fn.ptr()); });
  m.def("_invalidate_routes", &invalidate_routes);
  m.def("_set_check_cache", [](bool on) { set_verdict_cache_enabled(on); });
  m.def("_check_cache_enabled", &verdict_cache_enabled);
  m.def("_check_cache_size", &verdict_cache_size);
  m.def("_claim_ops", [](const std::vector<std::string>& names) { claim_ops(names); });
  m.def("_op_stats", [] {
    py::dict d;
    for (OpCounters* c : all_counters()) {
      uint64_t n = c->native, dc = c->decomposed, f = c->fallback, fd = c->fallback_dtypes;
      if (n || dc || f) d[py::str(c->name)] = py::make_tuple(n, dc, f, fd);
    }
    return d;
  });
  m.def("_reset_op_stats", &reset_counters);

  m.def("_device_count", [] { return device_count(); });
  m.def("_current_device", [] { return current_device(); });
  m.def("_set_device", [](int d) { set_current_device(d); });
  m.def("_synchronize", [](int d) {
    py::gil_scoped_release nogil;
    active_backend().runtime->synchronize(d < 0 ? current_device() : d);
  });

  // Flat keys named as torch.cuda.memory_stats() names them, plus deeplink's own counters.
  m.def("_memory_stats", [](int d) {
    const int dev = d < 0 ? current_device() : d;
    c10::CachingDeviceAllocator::DeviceStats s = device_stats(dev);
    py::dict r;
    auto put = [&](const char* name, const c10::CachingAllocator::Stat& st) {
      const std::string base = std::string(name) + ".all.";
      r[py::str(base + "current")] = st.current;
      r[py::str(base + "peak")] = st.peak;
      r[py::str(base + "allocated")] = st.allocated;
      r[py::str(base + "freed")] = st.freed;
    };
    constexpr size_t all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    put("allocated_bytes", s.allocated_bytes[all]);
    put("reserved_bytes", s.reserved_bytes[all]);
    put("active_bytes", s.active_bytes[all]);
    put("requested_bytes", s.requested_bytes[all]);
    put("allocation", s.allocation[all]);
    put("active", s.active[all]);
    put("segment", s.segment[all]);
    r["num_alloc_retries"] = s.num_alloc_retries;
    r["num_ooms"] = s.num_ooms;
    r["num_device_alloc"] = s.num_device_alloc;
    r["num_device_free"] = s.num_device_free;
    MemoryCounts c = memory_counts(dev);
    r["num_cache_hits"] = c.cache_hits;
    r["num_adopted"] = c.adopted;
    return r;
  });
  m.def("_reset_accumulated_memory_stats", [](int d) { reset_accumulated_stats(d < 0 ? current_device() : d); });
  m.def("_mem_get_info", [](int d) {
    return active_backend().runtime->mem_get_info(d < 0 ? current_device() : d);
  });
  m.def("_host_memory_stats", [] {
    HostMemoryStats s = host_memory_stats();
    py::dict r;
    r["allocated_bytes.current"] = s.allocated;
    r["allocated_bytes.peak"] = s.allocated_peak;
    r["reserved_bytes.current"] = s.reserved;
    r["locked_bytes.current"] = s.locked;
    r["num_host_alloc"] = s.host_allocs;
    r["num_host_free"] = s.host_frees;
    return r;
  });
  m.def("_empty_host_cache", &empty_host_cache);
  m.def("_move_into_host_storage", [](py::object storage, py::object shared) {
    move_into_host_storage(torch::createStorage(storage.ptr()), torch::createStorage(shared.ptr()));
  });
  m.def("_storage_from_host", [](py::object shared, int backend, int device) {
    return py::reinterpret_steal<py::object>(torch::createPyObject(storage_from_host(torch::createStorage(shared.ptr()),
                                                                                     backend, device)));
  });
  m.def("_storage_owner", [](py::object storage) -> py::tuple {
    c10::Storage s = torch::createStorage(storage.ptr());
    const OwnerTag* tag = owner_of(s.data_ptr());
    if (tag) return py::make_tuple(tag->backend, tag->device);
    return py::make_tuple(active_backend_id(), current_device());
  });
  m.def("_reset_peak_memory_stats", [](int d) { reset_peak_stats(d < 0 ? current_device() : d); });
  m.def("_empty_cache", [] { empty_cache(); });

  m.def("_tensor_backend", [](const at::Tensor& t) {
    TORCH_CHECK(t.device().type() == c10::DeviceType::PrivateUse1, "expected a deeplink tensor, got ", t.device());
    return owner_backend(t);
  });
  m.def("_host_view", [](const at::Tensor& t) {
    TORCH_CHECK(t.device().type() == c10::DeviceType::PrivateUse1, "host_view: expected a deeplink tensor, got ", t.device());
    int b = owner_backend(t);
    TORCH_CHECK(backend_slot(b).runtime->host_accessible(), "host_view: backend '", backend_slot(b).name,
                "' keeps its memory on the device (runtime.host_accessible is False); copy with .cpu() instead");
    c10::Storage keep = t.storage();
    void* base = keep.mutable_data();
    auto opts = t.options().device(c10::kCPU);
    return at::from_blob(static_cast<char*>(base) + t.storage_offset() * t.itemsize(), t.sizes(), t.strides(),
                          [keep](void*) {}, opts);
  });
  // Zero-copy bridges for Python kernels of backends built on an ATen device (the cuda backend's
  // convolution): a view of deeplink memory as that device's tensor, and the reverse adoption.
  m.def("_aten_view", [](const at::Tensor& t) {
    TORCH_CHECK(t.device().type() == c10::DeviceType::PrivateUse1, "aten_view: expected a deeplink tensor, got ", t.device());
    int b = owner_backend(t);
    const BackendSlot& slot = backend_slot(b);
    TORCH_CHECK(slot.passthrough.has_value(), "aten_view: backend '", slot.name,
                "' does not run on an ATen device (its Backend.aten_device is None)");
    return make_alias(t, *slot.passthrough);
  });
  m.def("_from_aten", [](const at::Tensor& r) {
    const BackendSlot& slot = active_backend();
    TORCH_CHECK(slot.passthrough.has_value() && r.device().type() == *slot.passthrough, "from_aten: expected a tensor on ",
                slot.passthrough ? c10::DeviceTypeName(*slot.passthrough) : std::string("the backend's ATen device"),
                " (active backend '", slot.name, "'), got ", r.device());
    int device = r.device().type() == c10::DeviceType::CPU ? current_device() : r.device().index();
    return adopt_tensor(r, active_backend_id(), device);
  });
  m.def("_inner_generator", [](py::object gen, int device) {
    std::optional<at::Generator> g;
    if (!gen.is_none()) g = THPGenerator_Unwrap(gen.ptr());
    return py::reinterpret_steal<py::object>(THPGenerator_Wrap(inner_generator(g, static_cast<c10::DeviceIndex>(device))));
  });
  m.def("_native_stream", [](int device, int64_t id) {
    return reinterpret_cast<uintptr_t>(native_stream(
        c10::Stream(c10::Stream::UNSAFE, c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)), id)));
  });
  m.def("_default_generator", [](int device) {
    return py::reinterpret_steal<py::object>(THPGenerator_Wrap(default_generator(static_cast<c10::DeviceIndex>(device))));
  });
}

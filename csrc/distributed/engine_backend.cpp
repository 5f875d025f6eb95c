// The c10d side of the deeplink process group backend (deeplink/distributed/).
//
// c10d only accepts a C++ `c10d::Backend` as the backend of a device in a ProcessGroup, and
// torch binds no Python-subclassable Backend. EngineBackend is that C++ Backend: every collective
// is forwarded, with the caller's tensors and options, to a Python object (the engine,
// deeplink/distributed/engine.py) that returns a c10d Work. Because it is a real Backend, every
// way into c10d reaches it: torch.distributed calls, DDP's C++ reducer, functional collectives.
//
// wrap_work (MappedWork) turns the Work of a collective run on stand-ins of the caller's tensors
// (zero-copy host views, staging copies) into the Work the caller sees: its result and future hold
// the caller's deeplink tensors, an optional `finish` (copy-back into non-contiguous or staged
// outputs) runs once when the inner work completes, and a failure names the collective, group and
// transport, so a dead peer reads as such instead of as a bare socket error.
#include <torch/extension.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/utils/pybind.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../shim/python_gate.h"
#include "fast_path.h"
#include "works.h"

using namespace deeplink_dist;

namespace {

class EngineBackend : public c10d::Backend {
 public:
  EngineBackend(py::object engine, int rank, int size) : Backend(rank, size), engine_(std::move(engine)) {}

  ~EngineBackend() override {
    PythonEntry python;
    if (python.ok()) {
      engine_ = py::object();
    } else {
      engine_.release();  // the interpreter is ending or gone (python_gate.h): leak, never abort
    }
  }

  const std::string getBackendName() const override { return "deeplink"; }
  py::object engine() const { return engine_; }

  // Set up once, before the first collective (deeplink/distributed/c10d.py).
  HostViewFastPath& enable_fast_path(const intrusive_ptr<c10d::Backend>& gloo, int slot,
                                     const std::vector<at::Tensor>& dtype_samples, const std::vector<int64_t>& ops,
                                     const std::string& label, const at::Tensor& counters) {
    fast_ = std::make_unique<HostViewFastPath>(gloo, slot, dtype_samples, ops, label, counters);
    return *fast_;
  }
  HostViewFastPath* fast_path() const { return fast_.get(); }

  intrusive_ptr<Work> broadcast(std::vector<at::Tensor>& t, const c10d::BroadcastOptions& o) override {
    if (fast_ && fast_->takes(t)) return fast_->broadcast(t, o);
    return call("broadcast", t, o);
  }
  intrusive_ptr<Work> allreduce(std::vector<at::Tensor>& t, const c10d::AllreduceOptions& o) override {
    if (fast_ && fast_->takes(t) && fast_->takes_op(o.reduceOp)) return fast_->allreduce(t, o);
    return call("allreduce", t, o);
  }
  intrusive_ptr<Work> allreduce_coalesced(std::vector<at::Tensor>& t,
                                          const c10d::AllreduceCoalescedOptions& o) override {
    return call("allreduce_coalesced", t, o);
  }
  intrusive_ptr<Work> reduce(std::vector<at::Tensor>& t, const c10d::ReduceOptions& o) override {
    return call("reduce", t, o);
  }
  intrusive_ptr<Work> allgather(std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in,
                                const c10d::AllgatherOptions& o) override {
    return call("allgather", out, in, o);
  }
  intrusive_ptr<Work> _allgather_base(at::Tensor& out, at::Tensor& in, const c10d::AllgatherOptions& o) override {
    if (fast_ && fast_->takes(out) && fast_->takes(in)) return fast_->allgather_into(out, in, o);
    return call("_allgather_base", out, in, o);
  }
  intrusive_ptr<Work> allgather_coalesced(std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in,
                                          const c10d::AllgatherOptions& o) override {
    return call("allgather_coalesced", out, in, o);
  }
  intrusive_ptr<Work> allgather_into_tensor_coalesced(std::vector<at::Tensor>& out, std::vector<at::Tensor>& in,
                                                      const c10d::AllgatherOptions& o) override {
    return call("allgather_into_tensor_coalesced", out, in, o);
  }
  intrusive_ptr<Work> gather(std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in,
                             const c10d::GatherOptions& o) override {
    return call("gather", out, in, o);
  }
  intrusive_ptr<Work> scatter(std::vector<at::Tensor>& out, std::vector<std::vector<at::Tensor>>& in,
                              const c10d::ScatterOptions& o) override {
    return call("scatter", out, in, o);
  }
  intrusive_ptr<Work> reduce_scatter(std::vector<at::Tensor>& out, std::vector<std::vector<at::Tensor>>& in,
                                     const c10d::ReduceScatterOptions& o) override {
    return call("reduce_scatter", out, in, o);
  }
  intrusive_ptr<Work> _reduce_scatter_base(at::Tensor& out, at::Tensor& in,
                                           const c10d::ReduceScatterOptions& o) override {
    if (fast_ && fast_->takes(out) && fast_->takes(in) && fast_->takes_op(o.reduceOp))
      return fast_->reduce_scatter_into(out, in, o);
    return call("_reduce_scatter_base", out, in, o);
  }
  intrusive_ptr<Work> reduce_scatter_tensor_coalesced(std::vector<at::Tensor>& out, std::vector<at::Tensor>& in,
                                                      const c10d::ReduceScatterOptions& o) override {
    return call("reduce_scatter_tensor_coalesced", out, in, o);
  }
  intrusive_ptr<Work> alltoall_base(at::Tensor& out, at::Tensor& in, std::vector<int64_t>& out_splits,
                                    std::vector<int64_t>& in_splits, const c10d::AllToAllOptions& o) override {
    return call("alltoall_base", out, in, out_splits, in_splits, o);
  }
  intrusive_ptr<Work> alltoall(std::vector<at::Tensor>& out, std::vector<at::Tensor>& in,
                               const c10d::AllToAllOptions& o) override {
    return call("alltoall", out, in, o);
  }
  intrusive_ptr<Work> send(std::vector<at::Tensor>& t, int dst, int tag) override {
    return call("send", t, dst, tag);
  }
  intrusive_ptr<Work> recv(std::vector<at::Tensor>& t, int src, int tag) override {
    return call("recv", t, src, tag);
  }
  intrusive_ptr<Work> recvAnysource(std::vector<at::Tensor>& t, int tag) override {
    return call("recv_anysource", t, tag);
  }
  intrusive_ptr<Work> barrier(const c10d::BarrierOptions& o) override { return call("barrier", o); }

  void monitoredBarrier(const c10d::BarrierOptions& o, bool wait_all_ranks) override {
    PythonEntry python;
    require(python, "monitored_barrier");
    engine_.attr("monitored_barrier")(o, wait_all_ranks);
  }
  void setSequenceNumberForGroup() override {
    PythonEntry python;
    require(python, "set_sequence_number_for_group");
    engine_.attr("set_sequence_number_for_group")();
  }
  uint64_t getSequenceNumberForGroup() override {
    PythonEntry python;
    require(python, "get_sequence_number_for_group");
    return engine_.attr("get_sequence_number_for_group")().cast<uint64_t>();
  }
  void setTimeout(std::chrono::milliseconds timeout) override {
    PythonEntry python;
    require(python, "set_timeout");
    engine_.attr("set_timeout")(timeout.count() / 1000.0);
  }
  // c10d calls these from destructors too: once Python is shutting down there is nothing to end.
  void abort() override {
    PythonEntry python;
    if (python.ok()) engine_.attr("abort")();
  }
  void shutdown() override {
    PythonEntry python;
    if (python.ok()) engine_.attr("shutdown")();
  }

 private:
  // c10d may call in from its own threads (python_gate.h says why the GIL can be refused).
  static void require(const PythonEntry& python, const char* what) {
    TORCH_CHECK(python.ok(), "deeplink process group: ", what, " cannot run: the Python interpreter is shutting down ",
                "(a collective issued from a non-Python thread after exit began)");
  }

  template <typename... Args>
  intrusive_ptr<Work> call(const char* name, Args&&... args) {
    PythonEntry python;
    require(python, name);
    py::object work = engine_.attr(name)(std::forward<Args>(args)...);
    return work.cast<intrusive_ptr<Work>>();
  }

  py::object engine_;
  std::unique_ptr<HostViewFastPath> fast_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::module_::import("torch.distributed");  // registers c10d's Backend and Work with pybind
  py::class_<EngineBackend, c10d::Backend, intrusive_ptr<EngineBackend>>(m, "EngineBackend")
      .def(py::init<py::object, int, int>(), py::arg("engine"), py::arg("rank"), py::arg("size"))
      .def_property_readonly("engine", &EngineBackend::engine,
                             "the Python object running this backend's collectives (deeplink.distributed.Engine)")
      .def("enable_fast_path", &EngineBackend::enable_fast_path, py::arg("gloo"), py::arg("slot"),
           py::arg("dtype_samples"), py::arg("ops"), py::arg("label"), py::arg("counters"),
           py::return_value_policy::reference_internal,
           "run eligible collectives of host-memory tensors on `gloo` in C++ (fast_path.h)")
      .def_property_readonly("fast_path", &EngineBackend::fast_path, py::return_value_policy::reference_internal);
  py::class_<HostViewFastPath>(m, "HostViewFastPath")
      .def("learn_owner", &HostViewFastPath::learn_owner, py::arg("sample"),
           "accept tensors whose memory is of the same kind as `sample`'s (and of the same backend)")
      .def("set_label", &HostViewFastPath::set_label);
  py::class_<PendingWork, std::shared_ptr<PendingWork>>(m, "PendingWork")
      .def(py::init<>())
      .def_property_readonly("work", &PendingWork::work, "the c10d Work that completes with this")
      .def("complete", &PendingWork::complete)
      .def("fail", &PendingWork::fail, py::arg("message"));
  m.def(
      "drain_helper_threads", [](double seconds) { return HelperThreads::instance().drain(seconds); },
      py::arg("seconds"), py::call_guard<py::gil_scoped_release>(),
      "wait up to `seconds` for the threads completing futures of future-less works; True if none is left");
  m.def("close_python_gate", &deeplink::close_python_gate, py::arg("seconds"),
        "at exit: refuse the GIL to c10d's threads from now on, after waiting up to `seconds` for those inside "
        "(csrc/shim/python_gate.h); True if none was left inside");
  m.def("wrap_work", &wrap_work, py::arg("inner"), py::arg("outputs"), py::arg("finish"), py::arg("context"),
        "A Work that completes with `outputs` after `inner` does and `finish()` ran; failures name `context`.");
}

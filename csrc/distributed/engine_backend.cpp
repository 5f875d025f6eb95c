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
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/csrc/utils/pybind.h>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace py = pybind11;
using c10::intrusive_ptr;
using c10d::Work;

namespace {

class EngineBackend : public c10d::Backend {
 public:
  EngineBackend(py::object engine, int rank, int size) : Backend(rank, size), engine_(std::move(engine)) {}

  ~EngineBackend() override {
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      engine_ = py::object();
    } else {
      engine_.release();  // the interpreter is gone: nothing left to decref into
    }
  }

  const std::string getBackendName() const override { return "deeplink"; }
  py::object engine() const { return engine_; }

  intrusive_ptr<Work> broadcast(std::vector<at::Tensor>& t, const c10d::BroadcastOptions& o) override {
    return call("broadcast", t, o);
  }
  intrusive_ptr<Work> allreduce(std::vector<at::Tensor>& t, const c10d::AllreduceOptions& o) override {
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
    py::gil_scoped_acquire gil;
    engine_.attr("monitored_barrier")(o, wait_all_ranks);
  }
  void setSequenceNumberForGroup() override {
    py::gil_scoped_acquire gil;
    engine_.attr("set_sequence_number_for_group")();
  }
  uint64_t getSequenceNumberForGroup() override {
    py::gil_scoped_acquire gil;
    return engine_.attr("get_sequence_number_for_group")().cast<uint64_t>();
  }
  void setTimeout(std::chrono::milliseconds timeout) override {
    py::gil_scoped_acquire gil;
    engine_.attr("set_timeout")(timeout.count() / 1000.0);
  }
  void abort() override {
    py::gil_scoped_acquire gil;
    engine_.attr("abort")();
  }
  void shutdown() override {
    py::gil_scoped_acquire gil;
    engine_.attr("shutdown")();
  }

 private:
  template <typename... Args>
  intrusive_ptr<Work> call(const char* name, Args&&... args) {
    py::gil_scoped_acquire gil;
    py::object work = engine_.attr(name)(std::forward<Args>(args)...);
    return work.cast<intrusive_ptr<Work>>();
  }

  py::object engine_;
};

// A Python object that may be released on a thread without the GIL (c10d's worker threads).
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  ~PyRef() {
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      obj = py::object();
    } else {
      obj.release();
    }
  }
};

// An error's text without the C++ backtrace c10 appends (the context says where it happened).
std::string message_of(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// The Work the caller sees for a collective run on stand-ins of its tensors (see the top).
// Waiting on it waits on the inner work, then runs `finish` once; its future (DDP's reducer and
// FSDP use futures) chains on the inner work's future, or, for gloo works that have none (e.g.
// reduce_scatter), on a helper thread that waits on the inner work.
class MappedWork : public Work {
 public:
  MappedWork(intrusive_ptr<Work> inner, std::vector<at::Tensor> outputs, py::object finish, std::string context)
      : inner_(std::move(inner)),
        outputs_(std::move(outputs)),
        // No finish (the common case: zero-copy views) means no Python on c10d's completion thread.
        finish_(finish.is_none() ? nullptr : std::make_shared<PyRef>(std::move(finish))),
        context_(std::move(context)) {}

  bool isCompleted() override { return inner_->isCompleted(); }
  bool isSuccess() const override { return inner_->isSuccess(); }
  std::exception_ptr exception() const override { return inner_->exception(); }
  int sourceRank() const override { return inner_->sourceRank(); }
  std::vector<at::Tensor> result() override { return outputs_; }
  void abort() override { inner_->abort(); }

  bool wait(std::chrono::milliseconds timeout) override {
    bool ok = false;
    try {
      ok = inner_->wait(timeout);
      // Works made from futures (c10d's FutureWrappingWork) return from wait() on failure too.
      if (std::exception_ptr error = inner_->exception()) std::rethrow_exception(error);
      auto f = inner_future();
      if (f && f->hasError()) std::rethrow_exception(f->exception_ptr());
    } catch (...) {
      fail(message_of(std::current_exception()));
    }
    finish_once();
    return ok;
  }

  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override {
    std::lock_guard<std::mutex> lock(future_mutex_);
    if (future_) return future_;
    auto self = intrusive_ptr<MappedWork>::reclaim_copy(this);
    if (auto inner = inner_future()) {
      future_ = inner->then(
          [self](c10::ivalue::Future& f) {
            if (f.hasError()) self->fail(message_of(f.exception_ptr()));
            self->finish_once();
            return c10::IValue(self->outputs_);
          },
          c10::ListType::ofTensors());
    } else {
      future_ = c10::make_intrusive<c10::ivalue::Future>(c10::ListType::ofTensors());
      auto fut = future_;
      std::thread([self, fut] {
        try {
          self->wait(kNoTimeout);
          fut->markCompleted(c10::IValue(self->outputs_));
        } catch (...) {
          fut->setError(std::current_exception());
        }
      }).detach();
    }
    return future_;
  }

 private:
  // The inner work's future, or null for kinds of work that have none.
  c10::intrusive_ptr<c10::ivalue::Future> inner_future() {
    try {
      return inner_->getFuture();
    } catch (const c10::Error&) {
      return nullptr;
    }
  }

  [[noreturn]] void fail(const std::string& what) { C10_THROW_ERROR(DistBackendError, context_ + " failed: " + what); }

  void finish_once() {
    if (!finish_) return;
    py::gil_scoped_acquire gil;  // before the mutex: every holder of the mutex holds the GIL
    std::lock_guard<std::mutex> lock(finish_mutex_);
    if (finished_) return;
    finish_->obj();  // a Python error propagates to the waiter; finished_ stays false
    finished_ = true;
  }

  intrusive_ptr<Work> inner_;
  std::vector<at::Tensor> outputs_;
  std::shared_ptr<PyRef> finish_;
  std::string context_;
  std::mutex finish_mutex_, future_mutex_;
  bool finished_ = false;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

// A Work that Python completes or fails later (backends/ascend/collectives.py completes one
// when the device has run the collective). Python futures cannot carry an error into C++
// (their set_exception stores the exception as the result), this can.
class PendingWork {
 public:
  PendingWork() : future_(c10::make_intrusive<c10::ivalue::Future>(c10::ListType::ofTensors())) {}
  intrusive_ptr<Work> work() const { return Work::create_from_future(future_); }
  void complete() { future_->markCompleted(c10::IValue(std::vector<at::Tensor>())); }
  void fail(const std::string& message) {
    try {
      C10_THROW_ERROR(DistBackendError, message);
    } catch (...) {
      future_->setError(std::current_exception());
    }
  }

 private:
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

intrusive_ptr<Work> wrap_work(intrusive_ptr<Work> inner, std::vector<at::Tensor> outputs, py::object finish,
                              std::string context) {
  return c10::make_intrusive<MappedWork>(std::move(inner), std::move(outputs), std::move(finish), std::move(context));
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::module_::import("torch.distributed");  // registers c10d's Backend and Work with pybind
  py::class_<EngineBackend, c10d::Backend, intrusive_ptr<EngineBackend>>(m, "EngineBackend")
      .def(py::init<py::object, int, int>(), py::arg("engine"), py::arg("rank"), py::arg("size"))
      .def_property_readonly("engine", &EngineBackend::engine,
                             "the Python object running this backend's collectives (deeplink.distributed.Engine)");
  py::class_<PendingWork, std::shared_ptr<PendingWork>>(m, "PendingWork")
      .def(py::init<>())
      .def_property_readonly("work", &PendingWork::work, "the c10d Work that completes with this")
      .def("complete", &PendingWork::complete)
      .def("fail", &PendingWork::fail, py::arg("message"));
  m.def("wrap_work", &wrap_work, py::arg("inner"), py::arg("outputs"), py::arg("finish"), py::arg("context"),
        "A Work that completes with `outputs` after `inner` does and `finish()` ran; failures name `context`.");
}

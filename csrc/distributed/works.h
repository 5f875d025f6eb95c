// Work objects of the deeplink process-group backend (see engine_backend.cpp):
//   MappedWork   the Work the caller sees for a collective run on stand-ins of its tensors
//   PendingWork  a Work that Python completes or fails later (the HCCL waiter)
#pragma once

#include <torch/extension.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace deeplink_dist {

namespace py = pybind11;
using c10::intrusive_ptr;
using c10d::Work;

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
inline std::string message_of(std::exception_ptr error) {
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
  // `finish` may be null: no Python on c10d's completion thread (the common, zero-copy case).
  MappedWork(intrusive_ptr<Work> inner, std::vector<at::Tensor> outputs, std::shared_ptr<PyRef> finish,
             std::string context)
      : inner_(std::move(inner)), outputs_(std::move(outputs)), finish_(std::move(finish)), context_(std::move(context)) {}

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

inline intrusive_ptr<Work> wrap_work(intrusive_ptr<Work> inner, std::vector<at::Tensor> outputs, py::object finish,
                              std::string context) {
  std::shared_ptr<PyRef> f = finish.is_none() ? nullptr : std::make_shared<PyRef>(std::move(finish));
  return c10::make_intrusive<MappedWork>(std::move(inner), std::move(outputs), std::move(f), std::move(context));
}

}  // namespace deeplink_dist

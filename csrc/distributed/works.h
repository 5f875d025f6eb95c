// Work objects of the deeplink process-group backend (see engine_backend.cpp):
//   MappedWork   the Work the caller sees for a collective run on stand-ins of its tensors
//   PendingWork  a Work that Python completes or fails later (the HCCL waiter)
#pragma once

#include <torch/extension.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <cxxabi.h>

#include "../shim/python_gate.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace deeplink_dist {

namespace py = pybind11;
using deeplink::PythonEntry;
using c10::intrusive_ptr;
using c10d::Work;

// A Python object that may be released on a thread without the GIL (c10d's worker threads). Once
// Python is shutting down it is leaked instead (python_gate.h): the process is ending.
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  ~PyRef() {
    PythonEntry python;
    if (python.ok()) {
      obj = py::object();
    } else {
      obj.release();
    }
  }
};

// Takes `lock`, letting go of the GIL meanwhile if this thread holds it: the holder of the mutex
// may need the GIL to finish.
inline void lock_without_gil(std::unique_lock<std::mutex>& lock) {
  if (Py_IsInitialized() && PyGILState_Check()) {
    py::gil_scoped_release nogil;
    lock.lock();
  } else {
    lock.lock();
  }
}

// The threads that complete futures of works that have none (MappedWork::getFuture). They run
// Python callbacks when they finish, so the interpreter must not finalize under them: drain(),
// called at exit (deeplink/distributed/_ext.py), waits for them.
class HelperThreads {
 public:
  static HelperThreads& instance() {
    static HelperThreads* threads = new HelperThreads();  // never destroyed: detached threads use it
    return *threads;
  }
  void started() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++running_;
  }
  void finished() {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    idle_.notify_all();
  }
  // True when none is left running within `seconds`.
  bool drain(double seconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return idle_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return running_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  int running_ = 0;
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
// FSDP use futures) chains on the inner work's future, or, for gloo works that have none (send,
// recv), on a helper thread that waits on the inner work. The inner work is waited on once, by
// one thread at a time: a gloo send or recv hands its completion to a single waiter, and a
// second waiter (the helper and the caller, or two caller threads) would block until timeout.
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
      ok = wait_inner(timeout);
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
      HelperThreads::instance().started();
      std::thread([self, fut = future_]() mutable {
        try {
          self->wait(kNoTimeout);
          fut->markCompleted(c10::IValue(self->outputs_));
        } catch (abi::__forced_unwind&) {
          throw;  // something ended this thread (pthread_exit/cancel): let it end
        } catch (...) {
          fut->setError(std::current_exception());
        }
        self.reset();  // may release Python objects: before drain() lets the interpreter finalize
        fut.reset();
        HelperThreads::instance().finished();
      }).detach();
    }
    return future_;
  }

 private:
  // Waits on the inner work once (see the class comment); later waiters get its outcome.
  bool wait_inner(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(inner_mutex_, std::defer_lock);
    lock_without_gil(lock);
    if (!inner_waited_) {
      try {
        inner_ok_ = inner_->wait(timeout);
        // Works made from futures (c10d's FutureWrappingWork) return from wait() on failure too.
        if (std::exception_ptr error = inner_->exception()) std::rethrow_exception(error);
        auto f = inner_future();
        if (f && f->hasError()) std::rethrow_exception(f->exception_ptr());
      } catch (...) {
        inner_error_ = std::current_exception();
      }
      inner_waited_ = true;
    }
    if (inner_error_) std::rethrow_exception(inner_error_);
    return inner_ok_;
  }

  // The inner work's future, or null for kinds of work that have none.
  c10::intrusive_ptr<c10::ivalue::Future> inner_future() {
    try {
      return inner_->getFuture();
    } catch (const c10::Error&) {
      return nullptr;
    }
  }

  [[noreturn]] void fail(const std::string& what) { C10_THROW_ERROR(DistBackendError, context_ + " failed: " + what); }

  // The mutex comes first and the GIL second: `finish` releases the GIL inside (tensor copies do),
  // so a thread holding the GIL while it waits for the mutex would deadlock with the runner.
  void finish_once() {
    if (!finish_) return;
    std::unique_lock<std::mutex> lock(finish_mutex_, std::defer_lock);
    lock_without_gil(lock);
    if (finished_) return;
    PythonEntry python;
    if (!python.ok()) return;  // Python is shutting down (python_gate.h): nobody reads the outputs now
    finish_->obj();  // a Python error propagates to the waiter; finished_ stays false
    finished_ = true;
  }

  intrusive_ptr<Work> inner_;
  std::vector<at::Tensor> outputs_;
  std::shared_ptr<PyRef> finish_;
  std::string context_;
  std::mutex finish_mutex_, future_mutex_, inner_mutex_;
  bool finished_ = false;
  bool inner_waited_ = false, inner_ok_ = false;
  std::exception_ptr inner_error_;
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

// Entering Python from threads that Python did not start (autograd's device threads, c10d's
// worker threads, deeplink's helper threads), safely with respect to interpreter shutdown.
//
// Why a gate: once the interpreter starts finalizing, a thread that asks for the GIL is ended on
// the spot (pthread_exit). If that thread is inside a destructor or any other noexcept frame, the
// whole process aborts with "terminate called without an active exception". Checking
// Py_IsFinalizing() before taking the GIL does not help: finalization can begin between the check
// and the acquire. So deeplink closes its gate from an atexit hook (deeplink/_exit.py), which runs
// while Python still serves other threads: the hook closes the gate, then lets go of the GIL until
// every thread already inside has left. From then on a thread that does not already hold the GIL
// is refused (PythonEntry::ok() is false) and must do without Python: leak a reference (the process
// is ending) or raise a C++ error that names what could not run. Never refused: threads that hold
// the GIL already, and the thread that closed the gate (it runs the later atexit hooks and
// finalizes the interpreter; finalization never ends that thread).
//
// Both C++ extensions (shim, distributed) include this header; each closes its own gate.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace deeplink {
namespace python_gate {

inline std::atomic<int>& inside() {  // threads that took the GIL through the gate and hold it now
  static std::atomic<int> n{0};
  return n;
}
inline std::atomic<bool>& closed() {
  static std::atomic<bool> c{false};
  return c;
}
// The thread that closed the gate: the one running atexit hooks, which goes on to finalize the
// interpreter and is the one thread finalization never ends, so it is never refused.
inline std::atomic<std::thread::id>& closer() {
  static std::atomic<std::thread::id> id{};
  return id;
}

}  // namespace python_gate

// The GIL for this scope, unless the gate is closed (see above). Replaces py::gil_scoped_acquire on
// any path a non-Python thread can take.
class PythonEntry {
 public:
  PythonEntry() {
    if (!Py_IsInitialized()) return;
    if (PyGILState_Check()) {  // this thread holds the GIL already: nothing can end it here
      ok_ = true;
      return;
    }
    // Count first, then look at the gate (both sequentially consistent): close() sets the gate
    // first, then waits for the count, so a thread is either refused or waited for, never missed.
    python_gate::inside().fetch_add(1);
    if (python_gate::closed().load() && python_gate::closer().load() != std::this_thread::get_id()) {
      python_gate::inside().fetch_sub(1);
      return;
    }
    gil_.emplace();
    ok_ = counted_ = true;
  }
  ~PythonEntry() {
    gil_.reset();
    if (counted_) python_gate::inside().fetch_sub(1);
  }
  PythonEntry(const PythonEntry&) = delete;
  PythonEntry& operator=(const PythonEntry&) = delete;

  bool ok() const { return ok_; }

 private:
  std::optional<pybind11::gil_scoped_acquire> gil_;
  bool ok_ = false;
  bool counted_ = false;
};

// Called with the GIL held, from the atexit hook: closes the gate, then releases the GIL for up to
// `seconds` while threads inside finish. True when none was left inside.
inline bool close_python_gate(double seconds) {
  python_gate::closer().store(std::this_thread::get_id());
  python_gate::closed().store(true);
  pybind11::gil_scoped_release nogil;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (python_gate::inside().load() != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace deeplink

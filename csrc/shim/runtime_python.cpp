// Adapter: a Python object shaped like deeplink.runtime.Runtime -> DeviceRuntime.
// Calls may come from autograd's device threads, so each one takes the GIL; a Python exception
// becomes a c10::Error naming the backend and method, so it surfaces the same from any thread.
#include "python_gate.h"
#include "runtime.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace deeplink {
namespace {

class PythonRuntime final : public DeviceRuntime {
 public:
  PythonRuntime(std::string backend, py::object obj) : backend_(std::move(backend)), obj_(std::move(obj)) {
    py::gil_scoped_acquire gil;
    host_accessible_ = py::hasattr(obj_, "host_accessible") && obj_.attr("host_accessible").cast<bool>();
  }
  ~PythonRuntime() override {
    PythonEntry python;
    if (python.ok()) {
      obj_ = py::object();
    } else {
      obj_.release();  // interpreter ending or gone (python_gate.h): leak rather than touch it
    }
  }

  bool host_accessible() const override { return host_accessible_; }
  int device_count() override { return call<int>("device_count"); }
  void set_device(int d) override {
    PythonEntry python;
    require(python, "set_device");
    if (py::hasattr(obj_, "set_device")) call<void>("set_device", d);
  }
  void* malloc(int d, size_t n) override { return call<void*>("malloc", d, n); }
  void free(int d, void* p) override { release("free", d, addr(p)); }
  void memcpy(int d, void* dst, const void* src, size_t n, dl_memcpy_kind k, void* s) override {
    call<void>("memcpy", addr(dst), addr(src), n, static_cast<int>(k), d, addr(s));
  }
  void synchronize(int d) override { call<void>("synchronize", d); }
  void* stream_create(int d) override { return call<void*>("stream_create", d); }
  void stream_destroy(int d, void* s) override { release("stream_destroy", d, addr(s)); }
  void stream_synchronize(int d, void* s) override { call<void>("stream_synchronize", d, addr(s)); }
  bool stream_query(int d, void* s) override { return call<bool>("stream_query", d, addr(s)); }
  void stream_wait_event(int d, void* s, void* e) override { call<void>("stream_wait_event", d, addr(s), addr(e)); }
  void* event_create(int d) override { return call<void*>("event_create", d); }
  void event_destroy(int d, void* e) override { release("event_destroy", d, addr(e)); }
  void event_record(int d, void* e, void* s) override { call<void>("event_record", d, addr(e), addr(s)); }
  void event_synchronize(int d, void* e) override { call<void>("event_synchronize", d, addr(e)); }
  bool event_query(int d, void* e) override { return call<bool>("event_query", d, addr(e)); }
  double event_elapsed_ms(int d, void* a, void* b) override {
    return call<double>("event_elapsed_ms", d, addr(a), addr(b));
  }
  std::pair<size_t, size_t> mem_get_info(int d) override {
    {
      PythonEntry python;
    require(python, "mem_get_info");
      if (!py::hasattr(obj_, "mem_get_info")) return DeviceRuntime::mem_get_info(d);
    }
    return call<std::pair<size_t, size_t>>("mem_get_info", d);
  }

 private:
  static uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

  // The GIL, or an error naming the call when Python is shutting down (python_gate.h).
  void require(const PythonEntry& python, const char* method) const {
    TORCH_CHECK(python.ok(), "deeplink backend '", backend_, "': runtime.", method,
                "() cannot run: the Python interpreter is shutting down (a deeplink call from a non-Python thread "
                "after exit began; finish device work before the program ends)");
  }

  // A call that gives something back to the runtime (destructors make these): once Python is
  // shutting down it is skipped, the process keeps what it held until it ends.
  void release(const char* method, int d, uintptr_t handle) {
    PythonEntry python;
    if (python.ok()) call<void>(method, d, handle);
  }

  // Calls obj.method(*args) and converts the result, all under one GIL hold (Python objects must
  // not outlive it).
  template <typename R, typename... Args>
  R call(const char* method, Args&&... args) {
    PythonEntry python;
    require(python, method);
    try {
      py::object o = obj_.attr(method)(std::forward<Args>(args)...);
      if constexpr (std::is_same_v<R, void>) {
        return;
      } else if constexpr (std::is_same_v<R, void*>) {
        return o.is_none() ? nullptr : reinterpret_cast<void*>(o.cast<uintptr_t>());
      } else {
        return o.cast<R>();
      }
    } catch (py::error_already_set& e) {
      std::string what = e.what();
      TORCH_CHECK(false, "deeplink backend '", backend_, "': runtime.", method, "() raised: ", what);
    } catch (py::cast_error& e) {
      TORCH_CHECK(false, "deeplink backend '", backend_, "': runtime.", method, "() returned a value of the wrong type (",
                  e.what(), ")");
    }
  }

  std::string backend_;
  py::object obj_;
  bool host_accessible_ = false;
};

}  // namespace

std::shared_ptr<DeviceRuntime> make_python_runtime(const std::string& backend, void* py_object) {
  py::gil_scoped_acquire gil;
  auto obj = py::reinterpret_borrow<py::object>(static_cast<PyObject*>(py_object));
  for (const char* m : {"device_count", "malloc", "free", "memcpy"}) {
    TORCH_CHECK(py::hasattr(obj, m), "deeplink backend '", backend, "': runtime object lacks method ", m,
                "(); subclass deeplink.runtime.Runtime");
  }
  return std::make_shared<PythonRuntime>(backend, obj);
}

}  // namespace deeplink

#include "router.h"

#include "alias.h"
#include "allocator.h"
#include "arg_checks.h"
#include "ckernel_route.h"
#include "device_state.h"
#include "generator.h"
#include "host_mirror.h"
#include "layouts.h"
#include "profiler.h"
#include "python_gate.h"
#include "upcast.h"
#include "runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/StreamGuard.h>
#include <torch/csrc/DynamicTypes.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/utils/tensor_memoryformats.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/library.h>

#include <c10/util/SmallVector.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace py = pybind11;

namespace deeplink {
namespace {

// ---------------------------------------------------------------- counters
std::mutex g_counters_mutex;
std::unordered_map<std::string, OpCounters*> g_counters;

// ---------------------------------------------------------------- routes
// What the active backend does with an op is a Route, resolved by the Python policy
// (deeplink/dispatcher.py) once per op and generation. Routes are immutable once published:
// deeplink.use(), set_fallback_mode() and the like bump the generation, and the next call of
// each op resolves and publishes a new Route, swapping it in. Calls hold a reference to the Route
// they run with (shared_ptr), so a Route retired by another thread stays valid until they end.
enum class Kind : uint8_t { Passthrough, Python, CKernel, Decomposed, Fallback, Missing, Composite };
enum class Policy : uint8_t { Warn, Silent, Error };

// What the schema says about an op, computed once per op (never freed).
struct OpInfo {
  std::string name;
  OpCounters* counters = nullptr;
  std::vector<size_t> generator_args;  // schema positions of `Generator?` arguments
  std::vector<bool> writes;            // schema positions written in place (Tensor(a!))
  // Schema positions of index tensors that may live on the CPU, as CUDA allows (advanced indexing
  // `indices`, index_fill's `index`): moved to the op's device before the call.
  std::vector<size_t> cpu_index_args;
  // Random op without a Generator argument (native_dropout): its ATen kernel draws from the ATen
  // device's default generator, so deeplink's generator state is lent to it for the call.
  bool lends_rng = false;
  mutable std::atomic<bool> no_meta{false};  // its meta kernel cannot check calls (arg_checks.h)
  // ATen's hooks for devices it does not know (convolution_overrideable and its backward) have
  // no CPU kernel of their own (theirs raises NotImplementedError): the CPU fallback runs the
  // generic op they stand for instead.
  std::optional<c10::OperatorHandle> cpu_substitute;
};

struct Route {
  const OpInfo* op = nullptr;
  uint64_t generation = 0;
  int backend = -1;  // the backend slot it was resolved for: the call runs entirely on it
  Kind kind = Kind::Missing;
  Policy policy = Policy::Warn;
  bool check_args = true;  // run the meta argument checks before Python kernels and decompositions
  c10::DeviceType passthrough = c10::DeviceType::CPU;
  UpcastPairs upcasts;     // passthrough: dtypes the ATen kernel lacks, run in a wider dtype
  PyObject* fn = nullptr;  // python / decomposed kernel (strong reference); a C kernel's Python path
  std::shared_ptr<const CKernelSpec> ckernel;  // a C kernel called from C++ (ckernel_route.h)
  std::string message;     // missing: why
  mutable std::atomic<bool> warned{false};
  mutable std::atomic<bool> superseded{false};  // replaced by a route of the same generation
  Route() = default;
  Route(const Route&) = delete;
  ~Route();
};
using RoutePtr = std::shared_ptr<const Route>;

std::atomic<uint64_t> g_generation{1};
// Never destroyed (routes may be dropped by threads still running at exit).
std::shared_mutex& g_routes_mutex = *new std::shared_mutex();
auto& g_routes = *new std::unordered_map<const c10::FunctionSchema*, RoutePtr>();
std::mutex& g_ops_mutex = *new std::mutex();
auto& g_ops = *new std::unordered_map<const c10::FunctionSchema*, OpInfo*>();
PyObject* g_resolver = nullptr;

// Python references of retired routes: a route can die on any thread, with or without the GIL,
// so its kernel is released later, by the next resolution (which holds the GIL).
std::mutex& g_retired_mutex = *new std::mutex();
auto& g_retired = *new std::vector<PyObject*>();

Route::~Route() {
  if (fn == nullptr) return;
  std::lock_guard<std::mutex> lock(g_retired_mutex);
  g_retired.push_back(fn);
}

void release_retired() {  // with the GIL held
  std::vector<PyObject*> dead;
  {
    std::lock_guard<std::mutex> lock(g_retired_mutex);
    dead.swap(g_retired);
  }
  for (PyObject* o : dead) Py_DECREF(o);
}

std::optional<c10::OperatorHandle> cpu_substitute_for(const std::string& name) {
  const char* generic = name == "aten::convolution_overrideable"            ? "aten::convolution"
                        : name == "aten::convolution_backward_overrideable" ? "aten::convolution_backward"
                                                                            : nullptr;
  if (!generic) return std::nullopt;
  return c10::Dispatcher::singleton().findSchemaOrThrow(generic, "");
}

bool accepts_cpu_index(const c10::FunctionSchema& schema, const c10::Argument& arg) {
  if (arg.name() == "indices") {  // Tensor?[] of index / index_put_ / _unsafe_index ...
    const auto& t = arg.type();
    return t->kind() == c10::TypeKind::ListType &&
           t->castRaw<c10::ListType>()->getElementType()->kind() == c10::TypeKind::OptionalType;
  }
  return arg.name() == "index" && (schema.name() == "aten::index_fill_" || schema.name() == "aten::index_fill");
}

std::string op_name_of(const c10::FunctionSchema& schema) {
  const auto& n = schema.operator_name();
  std::string name = n.name;
  if (name.rfind("aten::", 0) == 0) name = name.substr(6);
  if (!n.overload_name.empty()) name += "." + n.overload_name;
  return name;
}

Kind parse_kind(const std::string& k) {
  if (k == "passthrough") return Kind::Passthrough;
  if (k == "python") return Kind::Python;
  if (k == "ckernel") return Kind::CKernel;
  if (k == "decomposed") return Kind::Decomposed;
  if (k == "fallback") return Kind::Fallback;
  if (k == "composite") return Kind::Composite;
  return Kind::Missing;
}

const OpInfo* op_info(const c10::OperatorHandle& op) {
  const c10::FunctionSchema* key = &op.schema();
  std::lock_guard<std::mutex> lock(g_ops_mutex);
  auto it = g_ops.find(key);
  if (it != g_ops.end()) return it->second;
  auto* info = new OpInfo();
  info->name = op_name_of(*key);
  info->counters = counters_for(info->name);
  const auto& args = key->arguments();
  info->writes.resize(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& t = args[i].type();
    if (t->kind() == c10::TypeKind::OptionalType &&
        t->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::GeneratorType) {
      info->generator_args.push_back(i);
    }
    info->writes[i] = args[i].alias_info() && args[i].alias_info()->isWrite();
    if (accepts_cpu_index(*key, args[i])) info->cpu_index_args.push_back(i);
  }
  info->lends_rng = info->generator_args.empty() && op.hasTag(at::Tag::nondeterministic_seeded);
  info->cpu_substitute = cpu_substitute_for(key->name());
  g_ops.emplace(key, info);
  return info;
}

// Swap `fresh` in, unless a newer route is there already; the old one is dropped outside the lock.
RoutePtr publish(const c10::FunctionSchema* key, RoutePtr fresh) {
  RoutePtr old;
  {
    std::unique_lock<std::shared_mutex> lock(g_routes_mutex);
    RoutePtr& slot = g_routes[key];
    if (slot && slot->generation > fresh->generation) return slot;
    old = std::move(slot);
    slot = fresh;
  }
  return fresh;
}

RoutePtr resolve(const c10::OperatorHandle& op, uint64_t gen) {
  auto r = std::make_shared<Route>();
  r->op = op_info(op);
  r->generation = gen;
  {
    // The resolver runs Python and may dispatch ops itself: no lock is held here.
    PythonEntry python;
    TORCH_CHECK(python.ok(), "deeplink: cannot choose a kernel for ", r->op->name, " now: the Python interpreter is ",
                "shutting down (a call from a non-Python thread after exit began; finish device work before the "
                "program ends)");
    release_retired();
    TORCH_CHECK(g_resolver != nullptr, "deeplink: dispatcher not initialised (import deeplink)");
    py::tuple res = py::reinterpret_borrow<py::object>(g_resolver)(r->op->name);
    std::string policy = res[2].cast<std::string>();
    r->kind = parse_kind(res[0].cast<std::string>());
    r->policy = policy == "error" ? Policy::Error : policy == "silent" ? Policy::Silent : Policy::Warn;
    r->backend = res.size() > 3 ? res[3].cast<int>() : active_backend_id();
    r->check_args = res.size() > 4 ? res[4].cast<bool>() : true;
    if (r->kind == Kind::Passthrough) {
      // payload: "cpu" | "cuda", or (device, ((lacking dtype, computed in) as c10::ScalarType codes, ...))
      py::object p = res[1];
      if (py::isinstance<py::tuple>(p)) {
        for (py::handle pair : p.cast<py::tuple>()[1].cast<py::tuple>())
          r->upcasts.emplace_back(static_cast<c10::ScalarType>(pair.cast<py::tuple>()[0].cast<int>()),
                                  static_cast<c10::ScalarType>(pair.cast<py::tuple>()[1].cast<int>()));
        p = p.cast<py::tuple>()[0];
      }
      r->passthrough = p.cast<std::string>() == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
    } else if (r->kind == Kind::Python || r->kind == Kind::Decomposed) {
      r->fn = res[1].ptr();
      Py_INCREF(r->fn);
    } else if (r->kind == Kind::CKernel) {  // payload: (the kernel's Python path, the C call's spec)
      py::tuple payload = res[1].cast<py::tuple>();
      r->fn = payload[0].ptr();
      Py_INCREF(r->fn);
      r->ckernel = parse_ckernel_spec(payload[1]);
      if (!r->ckernel) r->kind = Kind::Python;  // not callable directly on this platform
    } else if (r->kind == Kind::Missing) {
      r->message = res[1].cast<std::string>();
    }
  }
  return publish(&op.schema(), std::move(r));
}

RoutePtr route_for(const c10::OperatorHandle& op) {
  const c10::FunctionSchema* key = &op.schema();
  const uint64_t gen = g_generation.load(std::memory_order_acquire);
  auto current = [gen](const RoutePtr& r) { return r->generation == gen && !r->superseded.load(std::memory_order_relaxed); };
  // Most calls repeat recent ops: a per-thread cache avoids the shared lock on the hot path.
  thread_local std::unordered_map<const c10::FunctionSchema*, RoutePtr> t_cache;
  auto it = t_cache.find(key);
  if (it != t_cache.end() && current(it->second)) return it->second;
  RoutePtr found;
  {
    std::shared_lock<std::shared_mutex> lock(g_routes_mutex);
    auto shared = g_routes.find(key);
    if (shared != g_routes.end() && current(shared->second)) found = shared->second;
  }
  if (!found) found = resolve(op, gen);
  t_cache[key] = found;
  return found;
}

// A route like `r` whose kind is `kind` from now on (until the next generation).
RoutePtr supersede(const c10::OperatorHandle& op, const Route& r, Kind kind) {
  auto next = std::make_shared<Route>();
  next->op = r.op;
  next->generation = r.generation;
  next->backend = r.backend;
  next->kind = kind;
  next->policy = r.policy;
  next->check_args = r.check_args;
  next->passthrough = r.passthrough;
  next->upcasts = r.upcasts;
  next->warned = r.warned.load();
  RoutePtr published = publish(&op.schema(), std::move(next));
  r.superseded.store(true, std::memory_order_relaxed);
  return published;
}

// ---------------------------------------------------------------- helpers
std::string describe(const c10::FunctionSchema& schema, const torch::jit::Stack& stack, size_t start) {
  std::ostringstream os;
  const auto& args = schema.arguments();
  bool first = true;
  auto put = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined()) return;
    os << (first ? "" : ", ") << name << ": " << c10::toString(t.scalar_type()) << t.sizes() << " on " << t.device();
    first = false;
  };
  for (size_t i = 0; i < args.size() && start + i < stack.size(); ++i) {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      put(args[i].name(), v.toTensor());
    } else if (v.isTensorList()) {
      auto list = v.toTensorList();
      os << (first ? "" : ", ") << args[i].name() << ": " << list.size() << " tensors";
      first = false;
      if (list.size() > 0) os << " (first " << c10::toString(list.get(0).scalar_type()) << list.get(0).sizes() << ")";
    }
  }
  return first ? std::string("no tensor arguments") : os.str();
}

[[noreturn]] void raise_not_native(const Route& r, const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                                   size_t start, const std::string& why) {
  const std::string name = op_name_of(op.schema());
  TORCH_CHECK_NOT_IMPLEMENTED(false, "deeplink: aten::", name, " has no native kernel on backend '",
                              backend_slot(r.backend).name, "' (", why, "; arguments: ", describe(op.schema(), stack, start),
                              "). ",
                              r.policy == Policy::Error
                                  ? "DEEPLINK_FALLBACK=error forbids running it on the CPU; unset it (or "
                                    "deeplink.set_fallback_mode('warn')) to fall back, or implement the op in the backend."
                                  : "No CPU kernel exists either; implement it in the backend or avoid the op.");
}

// A deeplink tensor in the arguments: its device must agree with the others, and its memory must
// belong to the backend that will run the op.
void check_tensor(const at::Tensor& t, int backend, int& device, const c10::OperatorHandle& op, bool write = false) {
  if (!t.defined()) return;
  if (t.device().type() == c10::DeviceType::PrivateUse1) {
    if (device < 0) {
      device = t.device().index();
    } else {
      TORCH_CHECK(device == t.device().index(), "Expected all tensors to be on the same device, but found at least two "
                  "devices, deeplink:", device, " and deeplink:", static_cast<int>(t.device().index()),
                  "! (aten::", op_name_of(op.schema()), ")");
    }
    if (t.storage().data() != nullptr) {
      const OwnerTag* tag = owner_of(t.storage().data_ptr());
      int owner = tag ? tag->backend : backend;
      TORCH_CHECK(owner == backend, "deeplink: aten::", op_name_of(op.schema()), " got a tensor whose memory belongs to "
                  "backend '", backend_slot(owner).name, "' while backend '", backend_slot(backend).name,
                  "' is active. Tensors do not move between backends implicitly: call deeplink.use('",
                  backend_slot(owner).name, "') first, or move the tensor with .cpu() and back.");
    }
  } else if (t.dim() != 0 || write) {  // a zero-dim CPU tensor is a scalar input, never an output
    TORCH_CHECK(false, "Expected all tensors to be on the same device, but found at least two devices, deeplink and ",
                t.device(), "! (aten::", op_name_of(op.schema()), ": a ", t.device().type(),
                " tensor of shape ", t.sizes(), " was passed", write ? " as the output" : "",
                "; move it with .to('deeplink'))");
  }
}

struct Converted {
  at::Tensor orig, alias;
  bool write;
};
using Conversions = c10::SmallVector<Converted, 4>;

// Rewrites the arguments of one call in place: deeplink tensors -> `convert(t)`, deeplink
// devices -> `aten_device`, generators -> the inner generator of the ATen device. Returns the
// device index the op runs on.
template <typename F>
int rewrite_args(const c10::OperatorHandle& op, const Route& r, torch::jit::Stack& stack, size_t start, int backend,
                 c10::Device aten_device, Conversions& conv, F convert) {
  const size_t n = op.schema().arguments().size();
  int device = -1;
  // Pass 1: devices and ownership, so errors come before any work.
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      check_tensor(v.toTensor(), backend, device, op, r.op->writes[i]);
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorList()) check_tensor(t, backend, device, op, r.op->writes[i]);
    } else if (v.isList()) {
      for (const c10::IValue& e : v.toListRef())
        if (e.isTensor()) check_tensor(e.toTensor(), backend, device, op);
    } else if (v.isDevice() && v.toDevice().type() == c10::DeviceType::PrivateUse1 && device < 0) {
      device = v.toDevice().has_index() ? v.toDevice().index() : current_device();
    }
  }
  if (device < 0) device = current_device();
  auto conv1 = [&](const at::Tensor& t, bool write) -> at::Tensor {
    if (!t.defined() || t.device().type() != c10::DeviceType::PrivateUse1) return t;
    at::Tensor a = convert(t);
    conv.push_back({t, a, write});
    return a;
  };
  for (size_t i = 0; i < n; ++i) {
    c10::IValue& v = stack[start + i];
    const bool write = r.op->writes[i];
    if (v.isTensor()) {
      v = conv1(v.toTensor(), write);
    } else if (v.isTensorList()) {
      auto list = v.toTensorList();
      c10::List<at::Tensor> out;
      out.reserve(list.size());
      for (const at::Tensor& t : list) out.push_back(conv1(t, write));
      v = std::move(out);
    } else if (v.isList() && v.toListRef().size() > 0) {
      // List<Tensor?> (index / index_put_ indices)
      auto list = v.toList();
      bool has_tensor = false;
      for (const c10::IValue& e : list) has_tensor |= e.isTensor();
      if (has_tensor) {
        c10::List<std::optional<at::Tensor>> out;
        for (const c10::IValue& e : list)
          out.push_back(e.isTensor() ? std::optional<at::Tensor>(conv1(e.toTensor(), write)) : std::nullopt);
        v = std::move(out);
      }
    } else if (v.isDevice() && v.toDevice().type() == c10::DeviceType::PrivateUse1) {
      v = aten_device;
    }
  }
  for (size_t i : r.op->generator_args) {
    c10::IValue& v = stack[start + i];
    std::optional<at::Generator> g;
    if (v.isGenerator()) g = v.toGenerator();
    at::Generator inner = inner_generator(g, static_cast<c10::DeviceIndex>(device));
    if (inner.device().type() == aten_device.type()) v = inner;
  }
  return device;
}

// Map one returned tensor of an ATen kernel back to a deeplink tensor.
using Adopted = c10::SmallVector<std::pair<c10::StorageImpl*, c10::Storage>, 2>;

at::Tensor map_result(const at::Tensor& res, const Conversions& conv, int backend, int device, Adopted& adopted) {
  if (!res.defined() || res.device().type() == c10::DeviceType::PrivateUse1) return res;
  // A device kernel's host-side results (CUDA attention's Philox seed and offset are CPU tensors)
  // stay CPU tensors, as they are on the native device: that memory is not the backend's.
  if (res.device().type() == c10::DeviceType::CPU && backend_slot(backend).passthrough != c10::DeviceType::CPU)
    return res;
  for (const Converted& c : conv) {
    if (res.unsafeGetTensorImpl() == c.alias.unsafeGetTensorImpl()) return c.orig;  // in-place / out=
  }
  c10::StorageImpl* s = res.storage().unsafeGetStorageImpl();
  for (const Converted& c : conv) {
    if (s == c.alias.storage().unsafeGetStorageImpl()) return view_on(c.orig.storage(), res);  // a view
  }
  if (res._is_zerotensor()) {
    // ATen's storage-less "efficient zero" tensors (e.g. sgn's gradient for real inputs) have no
    // bytes to adopt: give deeplink real zeros.
    return at::zeros(res.sizes(), res.options().device(c10::Device(c10::DeviceType::PrivateUse1,
                                                                   static_cast<c10::DeviceIndex>(device))));
  }
  for (const auto& [impl, storage] : adopted)
    if (impl == s) return view_on(storage, res);  // several results on one fresh buffer
  at::Tensor t = adopt_tensor(res, backend, device);
  adopted.emplace_back(s, t.storage());
  return t;
}

void map_results(const c10::OperatorHandle& op, torch::jit::Stack& stack, const Conversions& conv,
                 int backend, int device) {
  const size_t m = op.schema().returns().size();
  Adopted adopted;
  for (size_t i = stack.size() - m; i < stack.size(); ++i) {
    c10::IValue& v = stack[i];
    if (v.isTensor()) {
      v = map_result(v.toTensor(), conv, backend, device, adopted);
    } else if (v.isTensorList()) {
      auto list = v.toTensorList();
      c10::List<at::Tensor> out;
      out.reserve(list.size());
      for (const at::Tensor& t : list) out.push_back(map_result(t, conv, backend, device, adopted));
      v = std::move(out);
    }
  }
}

// Swaps deeplink's generator state into the ATen device's default generator (CPU's, or CUDA's for
// the cuda backend) for one call, and back: random ops without a generator argument
// (native_dropout) draw from that default generator. (Another thread drawing from it at the same
// moment would see deeplink's stream.) CUDA's state is the host-side seed and Philox offset, so
// the swap is valid although the kernel runs later.
struct RngLoan {
  RngLoan(c10::DeviceType aten, c10::DeviceIndex device)
      : inner(inner_generator(std::nullopt, device)),
        lent(aten == c10::DeviceType::CPU ? at::detail::getDefaultCPUGenerator()
                                          : at::globalContext().defaultGenerator(c10::Device(aten, device))) {
    saved = lent.get_state();
    lent.set_state(inner.get_state());
  }
  ~RngLoan() {
    inner.set_state(lent.get_state());
    lent.set_state(saved);
  }
  at::Generator inner, lent;
  at::Tensor saved;
};

// CPU index tensors (OpInfo::cpu_index_args) become tensors on the op's device, so every path
// (ATen kernel, Python kernel, decomposition, CPU fallback) sees indices on the device.
void move_cpu_indices(const c10::OperatorHandle& op, const Route& r, torch::jit::Stack& stack) {
  const size_t start = stack.size() - op.schema().arguments().size();
  std::optional<c10::Device> device;
  for (size_t i = start; i < stack.size() && !device; ++i) {
    if (stack[i].isTensor() && stack[i].toTensor().device().type() == c10::DeviceType::PrivateUse1)
      device = stack[i].toTensor().device();
  }
  if (!device) return;
  auto to_device = [&](const at::Tensor& t) {
    return t.defined() && t.device().type() == c10::DeviceType::CPU ? t.to(*device) : t;
  };
  for (size_t i : r.op->cpu_index_args) {
    c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      v = to_device(v.toTensor());
    } else if (v.isList()) {
      c10::List<std::optional<at::Tensor>> out;
      for (const c10::IValue& e : v.toListRef())
        out.push_back(e.isTensor() ? std::optional<at::Tensor>(to_device(e.toTensor())) : std::nullopt);
      v = std::move(out);
    }
  }
}

// ---------------------------------------------------------------- the paths
void run_passthrough(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r) {
  const size_t start = stack->size() - op.schema().arguments().size();
  const c10::DeviceType aten = r.passthrough;
  std::optional<UpcastPlan> widened;
  if (!r.upcasts.empty()) widened = widen_arguments(op.schema(), r.upcasts, r.op->writes, *stack, start);
  Conversions conv;
  CallAliases aliases(aten);
  int device = rewrite_args(op, r, *stack, start, r.backend,
                            aten == c10::DeviceType::CPU ? c10::Device(aten) : c10::Device(aten, current_device()),
                            conv, [&](const at::Tensor& t) { return aliases.alias(t); });
  {
    c10::DeviceGuard guard(c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
    AliasScope scope(r.backend, device);
    c10::OptionalStreamGuard stream_guard;
    if (aten != c10::DeviceType::CPU) {
      auto st = backend_slot(r.backend).runtime->aten_stream(native_stream(current_stream(device)));
      if (st) stream_guard.reset_stream(*st);
    }
    std::optional<RngLoan> loan;
    if (r.op->lends_rng) loan.emplace(aten, static_cast<c10::DeviceIndex>(device));
    op.redispatchBoxed(c10::DispatchKeySet(aten == c10::DeviceType::CUDA ? c10::DispatchKey::CUDA : c10::DispatchKey::CPU),
                       stack);
  }
  require_strided_results(op, *stack, backend_slot(r.backend).name);  // x.to_sparse(): a clear error
  std::vector<at::Tensor> written;
  for (const Converted& c : conv)
    if (c.write) written.push_back(c.orig);
  if (!written.empty()) aliases.sync_back(written);
  map_results(op, *stack, conv, r.backend, device);
  if (widened) narrow_results(*widened, op.schema(), *stack);
}

// Copies to and from the CPU are ops too (_to_copy, copy_): a backend whose copy kernel declines
// would send the fallback's own copies back into the fallback. Stop that with an error.
thread_local int t_fallback_depth = 0;
struct FallbackDepth {
  FallbackDepth(const c10::OperatorHandle& op, int backend) {
    TORCH_CHECK(++t_fallback_depth <= 4, "deeplink: the CPU fallback for aten::", op_name_of(op.schema()),
                " re-entered itself: backend '", backend_slot(backend).name, "' must run the copies the fallback needs "
                "(_to_copy, copy_, clone) natively for all dtypes (its kernel declined them)");
  }
  ~FallbackDepth() { --t_fallback_depth; }
};

// Arguments go to the CPU through a HostMirror (one host copy per deeplink storage), so tensors
// that share memory on the device share it on the CPU and ATen's overlap checks fire as for CPU
// tensors; the written ones are copied back.
void run_cpu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r) {
  FallbackDepth depth(op, r.backend);
  const size_t n = op.schema().arguments().size();
  const size_t start = stack->size() - n;
  HostMirror mirror;
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = (*stack)[start + i];
    auto add = [&](const at::Tensor& t) {
      if (t.defined() && t.device().type() == c10::DeviceType::PrivateUse1) mirror.add(t);
    };
    if (v.isTensor()) add(v.toTensor());
    else if (v.isTensorList()) for (const at::Tensor& t : v.toTensorList()) add(t);
    else if (v.isList()) for (const c10::IValue& e : v.toListRef()) if (e.isTensor()) add(e.toTensor());
  }
  Conversions conv;
  int device = rewrite_args(op, r, *stack, start, r.backend, c10::Device(c10::DeviceType::CPU), conv,
                            [&](const at::Tensor& t) { return mirror.view(t); });
  if (r.op->cpu_substitute) {
    if (op.schema().name() == "aten::convolution_backward_overrideable") {
      // convolution_backward takes bias_sizes (4th argument), needed only for the bias gradient.
      const at::Tensor& weight = (*stack)[start + 2].toTensor();
      const bool transposed = (*stack)[start + 6].toBool();
      const int64_t groups = (*stack)[start + 8].toInt();
      const bool bias_grad = (*stack)[start + 9].toBoolList().get(2);
      const int64_t out_channels = transposed ? weight.size(1) * groups : weight.size(0);
      stack->insert(stack->begin() + static_cast<std::ptrdiff_t>(start + 3),
                    bias_grad ? c10::IValue(std::vector<int64_t>{out_channels}) : c10::IValue());
    }
    r.op->cpu_substitute->callBoxed(stack);
  } else {
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), stack);
  }
  require_strided_results(op, *stack, backend_slot(r.backend).name);  // x.to_sparse(): a clear error
  c10::SmallVector<at::Tensor, 4> written;
  for (const Converted& c : conv)
    if (c.write) written.push_back(c.orig);
  mirror.write_back(written);
  // Results move to the device (copies; view relationships with inputs are not kept on this path).
  const size_t m = op.schema().returns().size();
  c10::Device dev(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device));
  auto to_device = [&](const at::Tensor& t) -> at::Tensor {
    if (!t.defined() || t.device().type() == c10::DeviceType::PrivateUse1) return t;
    for (const Converted& c : conv)
      if (t.unsafeGetTensorImpl() == c.alias.unsafeGetTensorImpl()) return c.orig;
    return t.to(dev);
  };
  for (size_t i = stack->size() - m; i < stack->size(); ++i) {
    c10::IValue& v = (*stack)[i];
    if (v.isTensor()) {
      v = to_device(v.toTensor());
    } else if (v.isTensorList()) {
      auto list = v.toTensorList();
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : list) out.push_back(to_device(t));
      v = std::move(out);
    }
  }
}

// Boxed enums (ScalarType, Layout, MemoryFormat) travel as ints; Python kernels get the torch
// objects (torch.float32, torch.strided, torch.channels_last) a Python caller would pass.
py::object to_python(const c10::IValue& v, const c10::Type& declared) {
  if (v.isInt()) {
    const c10::Type* t = &declared;
    if (t->kind() == c10::TypeKind::OptionalType) t = t->castRaw<c10::OptionalType>()->getElementType().get();
    switch (t->kind()) {
      case c10::TypeKind::ScalarTypeType:
        return py::reinterpret_borrow<py::object>(
            reinterpret_cast<PyObject*>(torch::getTHPDtype(static_cast<at::ScalarType>(v.toInt()))));
      case c10::TypeKind::LayoutType:
        return py::reinterpret_borrow<py::object>(
            reinterpret_cast<PyObject*>(torch::getTHPLayout(static_cast<at::Layout>(v.toInt()))));
      case c10::TypeKind::MemoryFormatType:
        return py::reinterpret_borrow<py::object>(
            torch::utils::getTHPMemoryFormat(static_cast<at::MemoryFormat>(v.toInt())));
      default:
        break;
    }
  }
  return torch::jit::toPyObject(v);
}

// Returns false when the kernel declined (returned NotImplemented: dtypes it does not take).
bool run_python(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r) {
  const auto& schema = op.schema();
  const auto& args = schema.arguments();
  const size_t n = args.size();
  const size_t start = stack->size() - n;
  PythonEntry python;
  TORCH_CHECK(python.ok(), "deeplink backend '", backend_slot(r.backend).name, "': its Python kernel for ", r.op->name,
              " cannot run now: the Python interpreter is shutting down (a call from a non-Python thread after exit ",
              "began; finish device work before the program ends)");
  py::list pos;
  py::dict kw;
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = (*stack)[start + i];
    // Tensors stay tensors (toPyObject would turn wrapped numbers, e.g. the 1 in `1 + x`, into
    // Python floats, and kernels would have to handle both).
    py::object o = v.isTensor() ? py::reinterpret_steal<py::object>(THPVariable_Wrap(v.toTensor()))
                                : to_python(v, *args[i].real_type());
    if (args[i].kwarg_only())
      kw[py::str(args[i].name())] = o;
    else
      pos.append(o);
  }
  py::object res;
  try {
    res = py::reinterpret_borrow<py::object>(r.fn)(*pos, **kw);
  } catch (py::error_already_set& e) {
    // ATen raises RuntimeError (and subclasses), IndexError, ValueError, TypeError and
    // NotImplementedError; a kernel's other exceptions (a vendor library's own classes, OSError,
    // ZeroDivisionError, ...) become a RuntimeError that names the backend and op, caused by the original.
    if (e.matches(PyExc_RuntimeError) || e.matches(PyExc_IndexError) || e.matches(PyExc_ValueError) ||
        e.matches(PyExc_TypeError) || !e.matches(PyExc_Exception))
      throw;
    std::string what = "deeplink backend '" + backend_slot(r.backend).name + "': its kernel for aten::" +
                       r.op->name + " raised " + std::string(py::str(e.type().attr("__name__"))) + ": " +
                       std::string(py::str(e.value()));
    py::raise_from(e, PyExc_RuntimeError, what.c_str());
    throw py::error_already_set();
  }
  if (res.ptr() == Py_NotImplemented) return false;
  torch::jit::drop(*stack, n);
  const auto& rets = schema.returns();
  if (rets.size() == 1) {
    stack->push_back(torch::jit::toIValue(res, rets[0].type()));
  } else if (rets.size() > 1) {
    py::tuple t = res.cast<py::tuple>();
    TORCH_CHECK(t.size() == rets.size(), "deeplink: kernel for aten::", op_name_of(schema), " returned ", t.size(),
                " values, the schema has ", rets.size());
    for (size_t i = 0; i < rets.size(); ++i) stack->push_back(torch::jit::toIValue(t[i], rets[i].type()));
  }
  return true;
}

// Decompositions must use only ops the backend has: while one runs, a piece that would fall back
// aborts it instead, and the decomposed op itself falls back (once known, for good).
thread_local int t_decomp_depth = 0;
thread_local bool t_decomp_refused = false;

void fallback_or_raise(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r, const std::string& why) {
  const size_t start = stack->size() - op.schema().arguments().size();
  if (t_decomp_depth > 0) {
    t_decomp_refused = true;
    TORCH_CHECK_NOT_IMPLEMENTED(false, "deeplink: aten::", op_name_of(op.schema()),
                                " is not native, so the decomposition using it is abandoned");
  }
  if (r.policy == Policy::Error) raise_not_native(r, op, *stack, start, why);
  if (r.policy == Policy::Warn && !r.warned.exchange(true)) {
    TORCH_WARN("deeplink: aten::", op_name_of(op.schema()), " is not native on backend '", backend_slot(r.backend).name,
               "' (", why, "); running it on the CPU (copy in, run, copy out). Further fallbacks of this op are "
               "counted in deeplink.fallback_stats() without warning; DEEPLINK_FALLBACK=error makes this an error.");
  }
  OpCounters* counters = r.op->counters;
  counters->fallback.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = start; i < stack->size(); ++i) {
    const c10::IValue& v = (*stack)[i];
    at::Tensor t;
    if (v.isTensor()) t = v.toTensor();
    else if (v.isTensorList() && v.toTensorList().size() > 0) t = v.toTensorList().get(0);
    if (t.defined()) {
      counters->fallback_dtypes.fetch_or(uint64_t(1) << static_cast<int>(t.scalar_type()), std::memory_order_relaxed);
      break;
    }
  }
  run_cpu_fallback(op, stack, r);
}

// Ops claimed for an earlier backend (see claim_ops) that the active one does not claim run the
// composite kernel they would have run unclaimed.
void run_composite(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const c10::DispatchKey key = op.hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutogradNonFunctional)
                                   ? c10::DispatchKey::CompositeExplicitAutogradNonFunctional
                                   : c10::DispatchKey::CompositeExplicitAutograd;
  op.callBoxedForDispatchKey(key, *stack);
}

// A backend's Python or C kernel, or a decomposition: ATen's argument checks first (arg_checks.h).
// A C kernel the shim can call runs in C++; anything it cannot describe takes the Python path.
bool run_kernel(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r) {
  const size_t n = op.schema().arguments().size();
  const size_t start = stack->size() - n;
  int device = -1;
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = (*stack)[start + i];
    if (v.isTensor()) check_tensor(v.toTensor(), r.backend, device, op, r.op->writes[i]);
    else if (v.isTensorList())
      for (const at::Tensor& t : v.toTensorList()) check_tensor(t, r.backend, device, op, r.op->writes[i]);
  }
  std::optional<c10::DeviceGuard> guard;
  if (device >= 0) guard.emplace(c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
  check_overlap_like_aten(op, *stack, start, r.op->writes, r.op->lends_rng);
  if (r.check_args) check_on_meta(op, *stack, start, r.op->lends_rng, r.op->no_meta);
  if (r.ckernel) {
    const CCall c = run_ckernel(*r.ckernel, op, stack);
    if (c != CCall::Python) return c == CCall::Done;
  }
  return run_python(op, stack, r);
}

void router_fallback(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  const RoutePtr route = route_for(op);  // held for the whole call: another thread may retire it
  const Route& r = *route;
  if (!r.op->cpu_index_args.empty()) move_cpu_indices(op, r, *stack);
  std::optional<ProfiledOp> timed;  // device time for torch.profiler, only while it records
  if (C10_UNLIKELY(g_profiling_ops.load(std::memory_order_relaxed))) timed.emplace(op, r.backend);
  switch (r.kind) {
    case Kind::Passthrough:
      r.op->counters->native.fetch_add(1, std::memory_order_relaxed);
      run_passthrough(op, stack, r);
      return;
    case Kind::Composite:
      run_composite(op, stack);
      return;
    case Kind::CKernel:
    case Kind::Python:
    case Kind::Decomposed: {
      const bool decomposing = r.kind == Kind::Decomposed;
      if (decomposing) ++t_decomp_depth;
      bool done = false;
      try {
        done = run_kernel(op, stack, r);
      } catch (...) {
        if (decomposing) --t_decomp_depth;
        if (!(decomposing && t_decomp_refused)) throw;
        t_decomp_refused = false;
        // A piece is missing: this op falls back from now on (until the next generation).
        const RoutePtr fallback = supersede(op, r, Kind::Fallback);
        fallback_or_raise(op, stack, *fallback, "its decomposition needs ops the backend lacks");
        return;
      }
      if (decomposing) --t_decomp_depth;
      if (!done) {
        fallback_or_raise(op, stack, r, "its kernel declined these arguments (dtype not supported, or a "
                                        "decomposition re-entering itself)");
        return;
      }
      (decomposing ? r.op->counters->decomposed : r.op->counters->native).fetch_add(1, std::memory_order_relaxed);
      return;
    }
    case Kind::Fallback:
      fallback_or_raise(op, stack, r, "the backend has no kernel for it");
      return;
    case Kind::Missing: {
      const size_t start = stack->size() - op.schema().arguments().size();
      raise_not_native(r, op, *stack, start, r.message);
    }
  }
}

}  // namespace

OpCounters* counters_for(const std::string& op_name) {
  std::lock_guard<std::mutex> lock(g_counters_mutex);
  auto it = g_counters.find(op_name);
  if (it != g_counters.end()) return it->second;
  auto* c = new OpCounters();
  c->name = op_name;
  g_counters.emplace(op_name, c);
  return c;
}

std::vector<OpCounters*> all_counters() {
  std::lock_guard<std::mutex> lock(g_counters_mutex);
  std::vector<OpCounters*> v;
  for (auto& [k, c] : g_counters) v.push_back(c);
  return v;
}

void reset_counters() {
  std::lock_guard<std::mutex> lock(g_counters_mutex);
  for (auto& [k, c] : g_counters) {
    c->native = 0;
    c->decomposed = 0;
    c->fallback = 0;
    c->fallback_dtypes = 0;
  }
}

void set_route_resolver(void* py_callable) {
  py::gil_scoped_acquire gil;
  Py_XINCREF(static_cast<PyObject*>(py_callable));
  Py_XDECREF(g_resolver);
  g_resolver = static_cast<PyObject*>(py_callable);
  invalidate_routes();
}

// Ops whose functional or in-place form has a composite kernel (structured ops, e.g. add.Tensor ->
// add.out) would never reach the boxed fallback: the composite kernel runs first. Registering the
// router for them explicitly lets a backend kernel for "add.Tensor" be called as such. Claims are
// only ever added (the union over the backends activated so far), never removed: changing the
// dispatcher's tables while other threads dispatch is not safe, and an op claimed for an earlier
// backend is routed to its composite kernel (Kind::Composite) when the active backend has no
// kernel for it. (Raw pointers on purpose: never destroyed at exit, when the dispatcher may
// already be gone.)
void claim_ops(const std::vector<std::string>& names) {
  static std::mutex& mutex = *new std::mutex();
  static auto& claimed = *new std::unordered_set<std::string>();
  std::lock_guard<std::mutex> lock(mutex);
  torch::Library* lib = nullptr;
  for (const std::string& n : names) {
    if (!claimed.insert(n).second) continue;
    if (lib == nullptr)
      lib = new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
    lib->impl(n.c_str(), torch::CppFunction::makeFromBoxedFunction<&router_fallback>());
  }
}

void invalidate_routes() { g_generation.fetch_add(1, std::memory_order_acq_rel); }

}  // namespace deeplink

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&deeplink::router_fallback>());
}

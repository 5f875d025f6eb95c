#include "router.h"

#include "alias.h"
#include "allocator.h"
#include "ckernel_route.h"
#include "device_state.h"
#include "generator.h"
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

#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <unordered_map>

namespace py = pybind11;

namespace deeplink {
namespace {

// ---------------------------------------------------------------- counters
std::mutex g_counters_mutex;
std::unordered_map<std::string, OpCounters*> g_counters;

// ---------------------------------------------------------------- routes
enum class Kind : uint8_t { Passthrough, Python, CKernel, Decomposed, Fallback, Missing };
enum class Policy : uint8_t { Warn, Silent, Error };

struct Route {
  uint64_t generation = 0;
  Kind kind = Kind::Missing;
  Policy policy = Policy::Warn;
  c10::DeviceType passthrough = c10::DeviceType::CPU;
  PyObject* fn = nullptr;  // python / decomposed kernel (strong reference); a C kernel's Python path
  std::shared_ptr<const CKernelSpec> ckernel;  // C kernel called from C++ (ckernel_route.h)
  std::string message;     // missing: why
  OpCounters* counters = nullptr;
  std::atomic<bool> warned{false};
  std::vector<size_t> generator_args;  // schema positions of `Generator?` arguments
  std::vector<bool> writes;            // schema positions written in place (Tensor(a!))
  // Schema positions of index tensors that may live on the CPU, as CUDA allows (advanced indexing
  // `indices`, index_fill's `index`): moved to the op's device before the call.
  std::vector<size_t> cpu_index_args;
  // Random op without a Generator argument (native_dropout): its ATen kernel draws from the ATen
  // device's default generator, so deeplink's generator state is lent to it for the call.
  bool lends_rng = false;
};

std::atomic<uint64_t> g_generation{1};
std::shared_mutex g_routes_mutex;
std::unordered_map<const c10::FunctionSchema*, Route*> g_routes;
PyObject* g_resolver = nullptr;

Route* route_for_shared(const c10::OperatorHandle& op, const c10::FunctionSchema* key, uint64_t gen);

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
  return Kind::Missing;
}

void resolve_into(Route* r, const c10::FunctionSchema& schema, uint64_t gen) {
  std::string name = op_name_of(schema);
  py::gil_scoped_acquire gil;
  TORCH_CHECK(g_resolver != nullptr, "deeplink: dispatcher not initialised (import deeplink)");
  py::tuple res = py::reinterpret_borrow<py::object>(g_resolver)(name);
  std::string kind = res[0].cast<std::string>();
  std::string policy = res[2].cast<std::string>();
  r->kind = parse_kind(kind);
  r->policy = policy == "error" ? Policy::Error : policy == "silent" ? Policy::Silent : Policy::Warn;
  if (r->fn) Py_DECREF(r->fn);
  r->fn = nullptr;
  r->ckernel.reset();
  r->message.clear();
  if (r->kind == Kind::Passthrough) {
    r->passthrough = res[1].cast<std::string>() == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  } else if (r->kind == Kind::Python || r->kind == Kind::Decomposed) {
    r->fn = res[1].ptr();
    Py_INCREF(r->fn);
  } else if (r->kind == Kind::CKernel) {  // payload: (Python path of the kernel, spec)
    py::tuple payload = res[1].cast<py::tuple>();
    r->fn = payload[0].ptr();
    Py_INCREF(r->fn);
    r->ckernel = parse_ckernel_spec(payload[1]);
    if (!r->ckernel) r->kind = Kind::Python;  // this platform cannot call it directly
  } else if (r->kind == Kind::Missing) {
    r->message = res[1].cast<std::string>();
  }
  r->generation = gen;
}

Route* route_for(const c10::OperatorHandle& op) {
  const c10::FunctionSchema* key = &op.schema();
  uint64_t gen = g_generation.load(std::memory_order_acquire);
  // Most calls repeat recent ops: a per-thread cache avoids the shared lock on the hot path.
  thread_local std::unordered_map<const c10::FunctionSchema*, Route*> t_cache;
  {
    auto it = t_cache.find(key);
    if (it != t_cache.end() && it->second->generation == gen) return it->second;
  }
  Route* found = route_for_shared(op, key, gen);
  t_cache[key] = found;
  return found;
}

Route* route_for_shared(const c10::OperatorHandle& op, const c10::FunctionSchema* key, uint64_t gen) {
  {
    std::shared_lock<std::shared_mutex> lock(g_routes_mutex);
    auto it = g_routes.find(key);
    if (it != g_routes.end() && it->second->generation == gen) return it->second;
  }
  Route* r;
  {
    std::unique_lock<std::shared_mutex> lock(g_routes_mutex);
    auto it = g_routes.find(key);
    if (it == g_routes.end()) {
      r = new Route();
      r->counters = counters_for(op_name_of(*key));
      const auto& args = key->arguments();
      r->writes.resize(args.size());
      for (size_t i = 0; i < args.size(); ++i) {
        const auto& t = args[i].type();
        if (t->kind() == c10::TypeKind::OptionalType &&
            t->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::GeneratorType) {
          r->generator_args.push_back(i);
        }
        r->writes[i] = args[i].alias_info() && args[i].alias_info()->isWrite();
        if (accepts_cpu_index(*key, args[i])) r->cpu_index_args.push_back(i);
      }
      r->lends_rng = r->generator_args.empty() && op.hasTag(at::Tag::nondeterministic_seeded);
      g_routes.emplace(key, r);
    } else {
      r = it->second;
    }
  }
  // Resolve outside the map lock: the resolver runs Python and may dispatch ops itself.
  resolve_into(r, *key, gen);
  return r;
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
                              active_backend().name, "' (", why, "; arguments: ", describe(op.schema(), stack, start),
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
      check_tensor(v.toTensor(), backend, device, op, r.writes[i]);
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorList()) check_tensor(t, backend, device, op, r.writes[i]);
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
    const bool write = r.writes[i];
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
  for (size_t i : r.generator_args) {
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

// CPU index tensors (Route::cpu_index_args) become tensors on the op's device, so every path
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
  for (size_t i : r.cpu_index_args) {
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
void run_passthrough(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r, int backend) {
  const size_t start = stack->size() - op.schema().arguments().size();
  const c10::DeviceType aten = r.passthrough;
  Conversions conv;
  int device = rewrite_args(op, r, *stack, start, backend,
                            aten == c10::DeviceType::CPU ? c10::Device(aten) : c10::Device(aten, current_device()),
                            conv, [&](const at::Tensor& t) { return make_alias(t, aten); });
  {
    c10::DeviceGuard guard(c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
    AliasScope scope(backend, device);
    c10::OptionalStreamGuard stream_guard;
    if (aten != c10::DeviceType::CPU) {
      auto st = backend_slot(backend).runtime->aten_stream(native_stream(current_stream(device)));
      if (st) stream_guard.reset_stream(*st);
    }
    std::optional<RngLoan> loan;
    if (r.lends_rng) loan.emplace(aten, static_cast<c10::DeviceIndex>(device));
    op.redispatchBoxed(c10::DispatchKeySet(aten == c10::DeviceType::CUDA ? c10::DispatchKey::CUDA : c10::DispatchKey::CPU),
                       stack);
  }
  for (const Converted& c : conv)
    if (c.write) sync_back(c.orig, c.alias);
  map_results(op, *stack, conv, backend, device);
}

// Copies to and from the CPU are ops too (_to_copy, copy_): a backend whose copy kernel declines
// would send the fallback's own copies back into the fallback. Stop that with an error.
thread_local int t_fallback_depth = 0;
struct FallbackDepth {
  explicit FallbackDepth(const c10::OperatorHandle& op) {
    TORCH_CHECK(++t_fallback_depth <= 4, "deeplink: the CPU fallback for aten::", op_name_of(op.schema()),
                " re-entered itself: backend '", active_backend().name, "' must run the copies the fallback needs "
                "(_to_copy, copy_, clone) natively for all dtypes (its kernel declined them)");
  }
  ~FallbackDepth() { --t_fallback_depth; }
};

void run_cpu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack, const Route& r, int backend) {
  FallbackDepth depth(op);
  const size_t start = stack->size() - op.schema().arguments().size();
  Conversions conv;
  int device = rewrite_args(op, r, *stack, start, backend, c10::Device(c10::DeviceType::CPU), conv,
                            [](const at::Tensor& t) { return t.cpu(); });
  op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), stack);
  // Carry mutations back, then move results to the device. View relationships with inputs are
  // not preserved on this path (results are copies).
  for (const Converted& c : conv) {
    if (!c.write) continue;
    if (c.orig.sizes() != c.alias.sizes()) c.orig.resize_(c.alias.sizes());
    c.orig.copy_(c.alias);
  }
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
  py::gil_scoped_acquire gil;
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
  py::object res = py::reinterpret_borrow<py::object>(r.fn)(*pos, **kw);
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

void fallback_or_raise(const c10::OperatorHandle& op, torch::jit::Stack* stack, Route& r, int backend,
                       const std::string& why) {
  const size_t start = stack->size() - op.schema().arguments().size();
  if (t_decomp_depth > 0) {
    t_decomp_refused = true;
    TORCH_CHECK_NOT_IMPLEMENTED(false, "deeplink: aten::", op_name_of(op.schema()),
                                " is not native, so the decomposition using it is abandoned");
  }
  if (r.policy == Policy::Error) raise_not_native(r, op, *stack, start, why);
  if (r.policy == Policy::Warn && !r.warned.exchange(true)) {
    TORCH_WARN("deeplink: aten::", op_name_of(op.schema()), " is not native on backend '", backend_slot(backend).name,
               "' (", why, "); running it on the CPU (copy in, run, copy out). Further fallbacks of this op are "
               "counted in deeplink.fallback_stats() without warning; DEEPLINK_FALLBACK=error makes this an error.");
  }
  r.counters->fallback.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = start; i < stack->size(); ++i) {
    const c10::IValue& v = (*stack)[i];
    at::Tensor t;
    if (v.isTensor()) t = v.toTensor();
    else if (v.isTensorList() && v.toTensorList().size() > 0) t = v.toTensorList().get(0);
    if (t.defined()) {
      r.counters->fallback_dtypes.fetch_or(uint64_t(1) << static_cast<int>(t.scalar_type()), std::memory_order_relaxed);
      break;
    }
  }
  run_cpu_fallback(op, stack, r, backend);
}

void router_fallback(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  Route* r = route_for(op);
  const int backend = active_backend_id();
  if (!r->cpu_index_args.empty()) move_cpu_indices(op, *r, *stack);
  switch (r->kind) {
    case Kind::Passthrough:
      r->counters->native.fetch_add(1, std::memory_order_relaxed);
      run_passthrough(op, stack, *r, backend);
      return;
    case Kind::CKernel:
    case Kind::Python:
    case Kind::Decomposed: {
      const size_t start = stack->size() - op.schema().arguments().size();
      {
        int device = -1;
        for (size_t i = 0; i < op.schema().arguments().size(); ++i) {
          const c10::IValue& v = (*stack)[start + i];
          if (v.isTensor()) check_tensor(v.toTensor(), backend, device, op, r->writes[i]);
          else if (v.isTensorList())
            for (const at::Tensor& t : v.toTensorList()) check_tensor(t, backend, device, op, r->writes[i]);
        }
        std::optional<c10::DeviceGuard> guard;
        if (device >= 0) guard.emplace(c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(device)));
        const bool decomposing = r->kind == Kind::Decomposed;
        if (decomposing) ++t_decomp_depth;
        bool done = false;
        try {
          CCall c = r->ckernel ? run_ckernel(*r->ckernel, op, stack) : CCall::Python;
          done = c == CCall::Done || (c == CCall::Python && run_python(op, stack, *r));
        } catch (...) {
          if (decomposing) --t_decomp_depth;
          if (!(decomposing && t_decomp_refused)) throw;
          t_decomp_refused = false;
          r->kind = Kind::Fallback;  // a piece is missing: this op falls back from now on
          fallback_or_raise(op, stack, *r, backend, "its decomposition needs ops the backend lacks");
          return;
        }
        if (decomposing) --t_decomp_depth;
        if (done) break;
      }
      fallback_or_raise(op, stack, *r, backend, "its kernel declined these arguments (dtype not supported, or a decomposition re-entering itself)");
      return;
    }
    case Kind::Fallback:
      fallback_or_raise(op, stack, *r, backend, "the backend has no kernel for it");
      return;
    case Kind::Missing: {
      const size_t start = stack->size() - op.schema().arguments().size();
      raise_not_native(*r, op, *stack, start, r->message);
    }
  }
  (r->kind == Kind::Decomposed ? r->counters->decomposed : r->counters->native).fetch_add(1, std::memory_order_relaxed);
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
// router for them explicitly lets a backend kernel for "add.Tensor" be called as such. The set is
// the active backend's, replaced on every switch (dropping the Library deregisters the old set).
// (A raw pointer on purpose: never destroyed at exit, when the dispatcher may already be gone.)
torch::Library* g_claims = nullptr;

void claim_ops(const std::vector<std::string>& names) {
  delete g_claims;
  g_claims = nullptr;
  if (names.empty()) return;
  g_claims = new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__,
                                              __LINE__);
  for (const std::string& n : names)
    g_claims->impl(n.c_str(), torch::CppFunction::makeFromBoxedFunction<&router_fallback>());
}

void invalidate_routes() {
  g_generation.fetch_add(1, std::memory_order_acq_rel);
  std::shared_lock<std::shared_mutex> lock(g_routes_mutex);
  for (auto& [k, r] : g_routes) r->warned = false;
}

}  // namespace deeplink

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&deeplink::router_fallback>());
}

#include "ckernel_route.h"

#include "device_state.h"

#include <deeplink/dlpack_abi.h>

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/native/TypeProperties.h>
#include <c10/util/SmallVector.h>
#include <torch/csrc/Dtype.h>

#include <array>
#include <cstring>
#include <vector>

namespace py = pybind11;

namespace deeplink {

// The C function is called through one fixed prototype: every integer-class argument (pointers,
// int64_t, int) in order in the integer registers, every floating one (double, float) in order in
// the vector registers. The System V x86-64 and AAPCS64 calling conventions assign the two
// classes independently, so for a prototype whose arguments all fit in registers this is the same
// call the compiler makes for the real prototype. A float travels in the low 32 bits of its
// register. Where the convention is not one of these (Windows x64 shares positions between the
// classes), every call stays on the Python (cffi) path.
#if (defined(__x86_64__) && !defined(_WIN32)) || (defined(__aarch64__) && !defined(_WIN32))
#define DEEPLINK_CKERNEL_DIRECT 1
#if defined(__x86_64__)
constexpr int kIntRegs = 6;
#else
constexpr int kIntRegs = 8;
#endif
constexpr int kFloatRegs = 8;
#else
#define DEEPLINK_CKERNEL_DIRECT 0
constexpr int kIntRegs = 0;
constexpr int kFloatRegs = 0;
#endif

using RegisterFn = int (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                           double, double, double, double, double, double);

enum class ParamKind : uint8_t { Out, Tensor, Scalar, IntList };
enum class CType : uint8_t { Double, Float, Int64, Int };
enum class Outputs : uint8_t { Broadcast, Like, Into };

struct Param {
  ParamKind kind;
  int index;  // output index (Out) or schema position
  CType ctype;
};

struct CKernelSpec {
  RegisterFn fn = nullptr;
  std::vector<Param> params;
  Outputs outputs = Outputs::Broadcast;
  int mode_arg = -1;     // schema position named by like:/into:
  int n_out = 0;
  uint64_t refused = 0;  // bit s: calls with a tensor of ScalarType s are declined (the route's dtype check)
  std::array<DLDataType, 64> codes{};  // by ScalarType; bits == 0: no DLPack code (Python path)
};

bool ckernel_route_supported() { return DEEPLINK_CKERNEL_DIRECT; }

namespace {

at::ScalarType scalar_type_of(py::handle dtype) {
  TORCH_CHECK(THPDtype_Check(dtype.ptr()), "deeplink: expected a torch.dtype in a C kernel spec");
  return reinterpret_cast<THPDtype*>(dtype.ptr())->scalar_type;
}

CType ctype_of(const std::string& s) {
  if (s == "double") return CType::Double;
  if (s == "float") return CType::Float;
  if (s == "int64_t") return CType::Int64;
  return CType::Int;
}

// The strides of `t` seen as `shape` (expand: missing and size-1 dims get stride 0).
void broadcast_strides(const at::Tensor& t, at::IntArrayRef shape, c10::SmallVectorImpl<int64_t>& out) {
  const int64_t lead = static_cast<int64_t>(shape.size()) - t.dim();
  for (int64_t i = 0; i < lead; ++i) out.push_back(0);
  for (int64_t d = 0; d < t.dim(); ++d) out.push_back(t.size(d) == shape[lead + d] ? t.stride(d) : 0);
}

}  // namespace

std::shared_ptr<const CKernelSpec> parse_ckernel_spec(py::handle spec_obj) {
  if (!DEEPLINK_CKERNEL_DIRECT) return nullptr;
  py::tuple spec = py::reinterpret_borrow<py::tuple>(spec_obj);
  auto s = std::make_shared<CKernelSpec>();
  s->fn = reinterpret_cast<RegisterFn>(spec[0].cast<uintptr_t>());
  int ints = 0, floats = 0;
  for (py::handle p : spec[1].cast<py::list>()) {
    py::tuple t = py::reinterpret_borrow<py::tuple>(p);
    std::string kind = t[0].cast<std::string>();
    Param param{ParamKind::Tensor, t[1].cast<int>(), ctype_of(t[2].cast<std::string>())};
    if (kind == "out") {
      param.kind = ParamKind::Out;
      ++s->n_out;
      ++ints;
    } else if (kind == "tensor") {
      ++ints;
    } else if (kind == "scalar") {
      param.kind = ParamKind::Scalar;
      (param.ctype == CType::Double || param.ctype == CType::Float ? floats : ints) += 1;
    } else {
      param.kind = ParamKind::IntList;
      ints += 2;  // pointer and length
    }
    s->params.push_back(param);
  }
  if (ints > kIntRegs || floats > kFloatRegs) return nullptr;  // arguments on the stack: Python path
  std::string mode = spec[2].cast<std::string>();
  s->outputs = mode == "like" ? Outputs::Like : mode == "into" ? Outputs::Into : Outputs::Broadcast;
  s->mode_arg = spec[3].cast<int>();
  for (py::handle d : spec[4].cast<py::list>()) {
    auto st = static_cast<int>(scalar_type_of(d));
    if (st < 64) s->refused |= uint64_t(1) << st;
  }
  for (py::handle e : spec[5].cast<py::list>()) {
    py::tuple t = py::reinterpret_borrow<py::tuple>(e);
    auto st = static_cast<int>(scalar_type_of(t[0]));
    if (st < 64) s->codes[st] = DLDataType{t[1].cast<uint8_t>(), t[2].cast<uint8_t>(), 1};
  }
  return s;
}

CCall run_ckernel(const CKernelSpec& s, const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  const size_t n = schema.arguments().size();
  const size_t start = stack->size() - n;
  auto arg = [&](int i) -> const c10::IValue& { return (*stack)[start + i]; };
  if (schema.returns().size() != static_cast<size_t>(s.n_out)) return CCall::Python;

  // The route's dtype check, as deeplink.dispatcher does it for Python kernels.
  auto refused = [&](const at::Tensor& t) {
    auto st = static_cast<int>(t.scalar_type());
    return st < 64 && ((s.refused >> st) & 1);
  };
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = arg(static_cast<int>(i));
    if (v.isTensor() && refused(v.toTensor())) return CCall::Declined;
    if (v.isTensorList())
      for (const at::Tensor& t : v.toTensorList())
        if (refused(t)) return CCall::Declined;
  }

  // Inputs (undefined: None), and a check that every scalar is one this path can pass.
  c10::SmallVector<at::Tensor, 4> inputs;
  for (const Param& p : s.params) {
    const c10::IValue& v = arg(p.index);
    if (p.kind == ParamKind::Tensor) {
      if (v.isNone()) inputs.emplace_back();
      else if (v.isTensor()) inputs.push_back(v.toTensor());
      else return CCall::Python;
    } else if (p.kind == ParamKind::Scalar) {
      if (!(v.isDouble() || v.isInt() || v.isBool() || v.isSymInt() || v.isSymFloat())) return CCall::Python;
    } else if (p.kind == ParamKind::IntList) {
      if (!(v.isNone() || v.isInt() || v.isIntList())) return CCall::Python;
    }
  }
  c10::SmallVector<at::Tensor, 4> present;
  for (const at::Tensor& t : inputs)
    if (t.defined()) present.push_back(t);
  if (present.empty()) return CCall::Python;  // the Python path explains what is wrong
  c10::Device device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(current_device()));
  for (const at::Tensor& t : present)
    if (!t.is_cpu()) {
      device = t.device();
      break;
    }

  // Outputs.
  c10::SmallVector<at::Tensor, 2> outs;
  const bool broadcast = s.outputs != Outputs::Like;
  at::DimVector shape;
  if (broadcast) {
    shape = at::DimVector(present[0].sizes());
    for (size_t i = 1; i < present.size(); ++i)
      if (!present[i].sizes().equals(shape)) shape = at::infer_size_dimvector(shape, present[i].sizes());
  }
  if (s.outputs == Outputs::Broadcast) {
    at::native::ResultTypeState state;
    for (const at::Tensor& t : present) state = at::native::update_result_type_state(t, state);
    outs.push_back(at::empty(shape, at::TensorOptions().dtype(at::native::result_type(state)).device(device)));
  } else if (s.outputs == Outputs::Into) {
    at::Tensor target = arg(s.mode_arg).toTensor();
    if (!target.sizes().equals(shape)) {
      TORCH_CHECK(target.numel() == 0, "deeplink: aten::", schema.name(), ": output with shape ", target.sizes(),
                  " doesn't match the broadcast shape ", at::IntArrayRef(shape), " of the inputs");
      target.resize_(shape);  // out= given empty: sized here, as ATen does
    }
    outs.push_back(target);
  } else {
    const at::Tensor& like = arg(s.mode_arg).toTensor();
    outs.push_back(at::empty(like.sizes(), at::TensorOptions().dtype(like.scalar_type()).device(device)));
  }
  if (broadcast) {  // CPU scalars (x + 1) in the output's dtype: one dtype in C
    const at::ScalarType dtype = outs[0].scalar_type();
    for (at::Tensor& t : inputs)
      if (t.defined() && t.is_cpu() && t.dim() == 0 && t.scalar_type() != dtype) t = t.to(dtype);
  }

  // DLTensors: outputs, then the inputs that are present; shapes and strides in one array.
  c10::SmallVector<const at::Tensor*, 6> described;
  for (const at::Tensor& t : outs) described.push_back(&t);
  for (const at::Tensor& t : inputs)
    if (t.defined()) described.push_back(&t);
  c10::SmallVector<int64_t, 48> dims;
  c10::SmallVector<std::pair<size_t, size_t>, 6> at_dims;  // (shape offset, stride offset) per tensor
  if (broadcast) dims.append(shape.begin(), shape.end());
  for (const at::Tensor* t : described) {
    if (broadcast) {
      const size_t strides = dims.size();
      broadcast_strides(*t, shape, dims);
      at_dims.emplace_back(0, strides);
    } else {
      const size_t sizes = dims.size();
      dims.append(t->sizes().begin(), t->sizes().end());
      dims.append(t->strides().begin(), t->strides().end());
      at_dims.emplace_back(sizes, sizes + t->dim());
    }
  }
  c10::SmallVector<DLTensor, 6> structs(described.size());
  for (size_t i = 0; i < described.size(); ++i) {
    const at::Tensor& t = *described[i];
    const auto st = static_cast<int>(t.scalar_type());
    if (st >= 64 || s.codes[st].bits == 0) return CCall::Python;
    const size_t offset = static_cast<size_t>(t.storage_offset()) * t.element_size();
    DLTensor& d = structs[i];
    d.data = static_cast<char*>(t.data_ptr()) - offset;
    d.device = t.is_cpu() ? DLDevice{kDLCPU, 0} : DLDevice{kDLExtDev, static_cast<int32_t>(t.get_device())};
    d.ndim = static_cast<int32_t>(broadcast ? shape.size() : t.dim());
    d.dtype = s.codes[st];
    d.shape = dims.data() + at_dims[i].first;
    d.strides = dims.data() + at_dims[i].second;
    d.byte_offset = offset;
  }

  // Register arguments, in parameter order per class.
  std::array<int64_t, 8> ir{};
  std::array<double, 8> fr{};
  int ni = 0, nf = 0;
  std::vector<std::vector<int64_t>> lists;  // int lists live until the call returns
  lists.reserve(s.params.size());
  size_t next_input = static_cast<size_t>(s.n_out);
  size_t input_k = 0;
  for (const Param& p : s.params) {
    switch (p.kind) {
      case ParamKind::Out:
        ir[ni++] = reinterpret_cast<int64_t>(&structs[p.index]);
        break;
      case ParamKind::Tensor:
        ir[ni++] = inputs[input_k++].defined() ? reinterpret_cast<int64_t>(&structs[next_input++]) : 0;
        break;
      case ParamKind::Scalar: {
        const c10::Scalar v = arg(p.index).toScalar();
        if (p.ctype == CType::Double) {
          fr[nf++] = v.to<double>();
        } else if (p.ctype == CType::Float) {
          const float f = v.to<float>();
          uint64_t bits = 0;
          std::memcpy(&bits, &f, sizeof f);
          std::memcpy(&fr[nf++], &bits, sizeof bits);
        } else {
          ir[ni++] = v.isFloatingPoint() ? static_cast<int64_t>(v.to<double>()) : v.to<int64_t>();
        }
        break;
      }
      case ParamKind::IntList: {
        const c10::IValue& v = arg(p.index);
        lists.push_back(v.isNone() ? std::vector<int64_t>{} : v.isInt() ? std::vector<int64_t>{v.toInt()}
                                                                         : v.toIntVector());
        std::vector<int64_t>& l = lists.back();
        const int64_t len = static_cast<int64_t>(l.size());
        if (l.empty()) l.push_back(0);  // a valid pointer, as the Python path passes
        ir[ni++] = reinterpret_cast<int64_t>(l.data());
        ir[ni++] = len;
        break;
      }
    }
  }
  const int status = s.fn(ir[0], ir[1], ir[2], ir[3], ir[4], ir[5], ir[6], ir[7], fr[0], fr[1], fr[2], fr[3],
                          fr[4], fr[5], fr[6], fr[7]);
  if (status != 0) return CCall::Python;  // declines and failures are reported by the Python path
  torch::jit::drop(*stack, n);
  for (at::Tensor& t : outs) stack->push_back(std::move(t));
  return CCall::Done;
}

}  // namespace deeplink

// ATen bridge of the emulator's operator library: see emu_aten.h.
#include "emu_aten.h"

#include <sstream>

namespace ascend_emu {

const DtypeSet kFloats = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16};
const DtypeSet kFloatsD = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16, ACL_DOUBLE};
const DtypeSet kNumeric = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16, ACL_DOUBLE, ACL_INT8,
                           ACL_INT16, ACL_INT32,   ACL_INT64, ACL_UINT8};
const DtypeSet kAll = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,
                       ACL_INT16, ACL_INT32,   ACL_INT64, ACL_UINT8,  ACL_BOOL};
const DtypeSet kIndex = {ACL_INT32, ACL_INT64};
const DtypeSet kAnyType = {ACL_FLOAT, ACL_FLOAT16, ACL_BF16,  ACL_DOUBLE, ACL_INT8,   ACL_INT16, ACL_INT32,
                           ACL_INT64, ACL_UINT8,   ACL_BOOL,  ACL_UINT16, ACL_UINT32, ACL_UINT64};

at::ScalarType scalar_type(aclDataType d) {
  switch (d) {
    case ACL_FLOAT: return at::kFloat;
    case ACL_FLOAT16: return at::kHalf;
    case ACL_BF16: return at::kBFloat16;
    case ACL_DOUBLE: return at::kDouble;
    case ACL_INT8: return at::kChar;
    case ACL_INT16: return at::kShort;
    case ACL_INT32: return at::kInt;
    case ACL_INT64: return at::kLong;
    case ACL_UINT8: return at::kByte;
    case ACL_BOOL: return at::kBool;
    case ACL_UINT16: return at::kUInt16;
    case ACL_UINT32: return at::kUInt32;
    case ACL_UINT64: return at::kUInt64;
    case ACL_COMPLEX64: return at::kComplexFloat;
    case ACL_COMPLEX128: return at::kComplexDouble;
    default:
      throw EmuError{acl_code::NN_ERR_PARAM_INVALID, std::string("dtype ") + dtype_name(d) + " is not supported"};
  }
}

bool present(const TensorDesc& d) { return d.dtype != ACL_DT_UNDEFINED; }

at::Tensor view(const TensorDesc& d, bool meta) {
  if (!present(d)) return at::Tensor();
  auto opts = at::TensorOptions().dtype(scalar_type(d.dtype));
  if (meta) return at::empty_strided(d.dims, d.strides, opts.device(at::kMeta));
  if (d.numel() == 0) return at::empty_strided(d.dims, d.strides, opts);
  char* base = static_cast<char*>(d.data) + d.offset * static_cast<int64_t>(dtype_size(d.dtype));
  return at::from_blob(base, d.dims, d.strides, opts);
}

at::Scalar to_scalar(const ScalarValue& v) {
  switch (v.dtype) {
    case ACL_FLOAT: case ACL_DOUBLE: case ACL_FLOAT16: case ACL_BF16: return at::Scalar(v.f);
    case ACL_BOOL: return at::Scalar(v.b);
    default: return at::Scalar(v.i);
  }
}

std::string shape_of(const std::vector<int64_t>& v) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << ']';
  return o.str();
}

void require(bool cond, const std::string& message) {
  if (!cond) throw EmuError{acl_code::NN_ERR_PARAM_INVALID, message};
}

void emit(const char* arg, const at::Tensor& out, const at::Tensor& result) {
  if (!out.defined()) return;  // optional output not requested
  std::vector<int64_t> want(out.sizes().begin(), out.sizes().end());
  std::vector<int64_t> got(result.sizes().begin(), result.sizes().end());
  require(want == got, std::string(arg) + " has shape " + shape_of(want) + " but the result has shape " + shape_of(got));
  require(at::can_cast(result.scalar_type(), out.scalar_type()),
          std::string(arg) + " dtype " + std::string(c10::toString(out.scalar_type())) +
              " cannot hold a result of dtype " + std::string(c10::toString(result.scalar_type())));
  if (out.device().is_meta()) return;
  out.copy_(result);
}

void require_dtype(const char* arg, const TensorDesc& d, const DtypeSet& ok) {
  if (!present(d)) return;
  for (aclDataType x : ok)
    if (x == d.dtype) return;
  std::string names;
  for (size_t i = 0; i < ok.size(); ++i) names += std::string(i ? ", " : "") + dtype_name(ok[i]);
  throw EmuError{acl_code::NN_ERR_PARAM_INVALID,
                 std::string(arg) + " has dtype " + dtype_name(d.dtype) + ", which this operator does not support (supported: " + names + ")"};
}

namespace {
// ATen errors carry backtraces (and, from Python meta kernels, Python tracebacks): keep the
// message a person reads.
std::function<void(bool)> with_clean_errors(std::function<void(bool)> body) {
  return [body](bool meta) {
    try {
      body(meta);
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      size_t nl = msg.find('\n');
      throw EmuError{acl_code::NN_ERR_PARAM_INVALID, nl == std::string::npos ? msg : msg.substr(0, nl)};
    }
  };
}

std::vector<Range> ranges_of(const std::vector<const TensorDesc*>& ts) {
  std::vector<Range> out;
  for (const TensorDesc* t : ts)
    if (t && present(*t) && t->numel() > 0) out.push_back(t->range());
  return out;
}
}  // namespace

OpPlan plan(std::initializer_list<const TensorDesc*> tensors, std::function<void(bool)> body, uint64_t workspace,
            bool validate_on_meta) {
  OpPlan p;
  p.workspace = workspace;
  p.body = with_clean_errors(std::move(body));
  p.uses = ranges_of(std::vector<const TensorDesc*>(tensors));
  p.validate_on_meta = validate_on_meta;
  return p;
}

OpPlan plan_list(const std::vector<TensorDesc>& tensors, std::function<void(bool)> body, uint64_t workspace,
                 bool validate_on_meta) {
  std::vector<const TensorDesc*> ptrs;
  for (const TensorDesc& t : tensors) ptrs.push_back(&t);
  OpPlan p;
  p.workspace = workspace;
  p.body = with_clean_errors(std::move(body));
  p.uses = ranges_of(ptrs);
  p.validate_on_meta = validate_on_meta;
  return p;
}

at::Tensor f32(const at::Tensor& t) {
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) return t.to(at::kFloat);
  return t;
}

namespace {
std::vector<std::string>& signatures() {
  static std::vector<std::string>* v = new std::vector<std::string>();
  return *v;
}
}  // namespace

SignatureRegistrar::SignatureRegistrar(const char* name, const char* params) {
  signatures().push_back(std::string(name) + "|" + params);
}

}  // namespace ascend_emu

EMU_EXPORT const char* aclEmuSignatures() {
  static std::string out;
  if (out.empty())
    for (const std::string& s : ascend_emu::signatures()) out += s + "\n";
  return out.c_str();
}

// libnnopbase.so of the emulator: the aclnn meta objects (aclTensor, aclScalar, aclIntArray,
// aclBoolArray, aclFloatArray, aclTensorList, aclScalarList) and the two-phase executor.
//
// Every object carries a magic tag and a live flag; destroyed objects stay allocated so a second
// destroy or a use after destroy is reported instead of being undefined. Live counts per kind
// are exposed (aclEmuObjectsJson) so tests can check that every object created was destroyed.
// An executor is created by phase 1 (aclnnXxxGetWorkspaceSize) and consumed by exactly one
// phase-2 call of the same operator; the workspace it asked for must be device memory of at
// least that size, and is scribbled over when the task runs.
#include "emu_api.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <sstream>

namespace ascend_emu {
namespace {

enum Kind { K_TENSOR, K_SCALAR, K_INT_ARRAY, K_BOOL_ARRAY, K_FLOAT_ARRAY, K_TENSOR_LIST, K_SCALAR_LIST, K_EXECUTOR, K_COUNT };
const char* kKindNames[K_COUNT] = {"tensors",      "scalars",      "int_arrays", "bool_arrays",
                                   "float_arrays", "tensor_lists", "scalar_lists", "executors"};
constexpr uint32_t kMagic[K_COUNT] = {0x54454e53, 0x5343414c, 0x494e5441, 0x424f4f41,
                                      0x464c5441, 0x544c5354, 0x534c5354, 0x45584543};

std::mutex g_mu;
long g_live[K_COUNT] = {0};
long g_created[K_COUNT] = {0};
uint64_t g_next_id = 1;

struct Header {
  uint32_t magic;
  bool alive = true;
  uint64_t id = 0;
};

void born(Header& h, Kind k) {
  std::lock_guard<std::mutex> g(g_mu);
  h.magic = kMagic[k];
  h.id = g_next_id++;
  g_live[k]++;
  g_created[k]++;
}

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%p", p);
  return buf;
}

}  // namespace
}  // namespace ascend_emu

struct aclTensor {
  ascend_emu::Header h;
  ascend_emu::TensorDesc d;
};
struct aclScalar {
  ascend_emu::Header h;
  ascend_emu::ScalarValue v;
};
struct aclIntArray {
  ascend_emu::Header h;
  std::vector<int64_t> v;
};
struct aclBoolArray {
  ascend_emu::Header h;
  std::vector<bool> v;
};
struct aclFloatArray {
  ascend_emu::Header h;
  std::vector<float> v;
};
struct aclTensorList {
  ascend_emu::Header h;
  std::vector<aclTensor*> v;
};
struct aclScalarList {
  ascend_emu::Header h;
  std::vector<aclScalar*> v;
};
struct aclOpExecutor {
  ascend_emu::Header h;
  std::string op;
  ascend_emu::OpPlan plan;
  bool used = false;
};

namespace ascend_emu {

const char* dtype_name(aclDataType d) {
  switch (d) {
    case ACL_FLOAT: return "FLOAT";
    case ACL_FLOAT16: return "FLOAT16";
    case ACL_INT8: return "INT8";
    case ACL_INT32: return "INT32";
    case ACL_UINT8: return "UINT8";
    case ACL_INT16: return "INT16";
    case ACL_UINT16: return "UINT16";
    case ACL_UINT32: return "UINT32";
    case ACL_INT64: return "INT64";
    case ACL_UINT64: return "UINT64";
    case ACL_DOUBLE: return "DOUBLE";
    case ACL_BOOL: return "BOOL";
    case ACL_COMPLEX64: return "COMPLEX64";
    case ACL_COMPLEX128: return "COMPLEX128";
    case ACL_BF16: return "BFLOAT16";
    default: return "UNSUPPORTED";
  }
}

size_t dtype_size(aclDataType d) {
  switch (d) {
    case ACL_INT8: case ACL_UINT8: case ACL_BOOL: return 1;
    case ACL_FLOAT16: case ACL_BF16: case ACL_INT16: case ACL_UINT16: return 2;
    case ACL_FLOAT: case ACL_INT32: case ACL_UINT32: return 4;
    case ACL_INT64: case ACL_UINT64: case ACL_DOUBLE: case ACL_COMPLEX64: return 8;
    case ACL_COMPLEX128: return 16;
    default: return 0;
  }
}

int64_t TensorDesc::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Range TensorDesc::range() const {
  if (numel() == 0 || !data) return Range{};
  int64_t last = offset;
  for (size_t i = 0; i < dims.size(); ++i) last += (dims[i] - 1) * strides[i];
  uintptr_t base = reinterpret_cast<uintptr_t>(data);
  size_t isz = dtype_size(dtype);
  return Range{base + static_cast<uintptr_t>(offset) * isz, base + static_cast<uintptr_t>(last + 1) * isz};
}

namespace {

template <typename T>
bool live(const T* obj, Kind k) {
  return obj && obj->h.magic == kMagic[k] && obj->h.alive;
}

std::string shape_str(const std::vector<int64_t>& v) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << ']';
  return o.str();
}

// Checks an aclTensor description and returns why it is invalid ("" when valid).
std::string check_desc(const TensorDesc& d) {
  if (dtype_size(d.dtype) == 0) return std::string("unsupported dataType ") + std::to_string(d.dtype);
  if (d.dims.size() > 8) return "more than 8 dimensions";
  switch (d.format) {
    case ACL_FORMAT_ND: case ACL_FORMAT_NCHW: case ACL_FORMAT_NHWC: case ACL_FORMAT_NCDHW:
    case ACL_FORMAT_NC: case ACL_FORMAT_NCL: break;
    default: return "format " + std::to_string(d.format) + " is a private layout the emulator does not model; use ACL_FORMAT_ND";
  }
  for (size_t i = 0; i < d.dims.size(); ++i) {
    if (d.dims[i] < 0) return "negative view dimension";
    if (d.strides[i] < 0) return "negative stride (aclTensor strides must be >= 0)";
  }
  if (d.offset < 0) return "negative offset";
  int64_t storage_numel = 1;
  for (int64_t s : d.storage) {
    if (s < 0) return "negative storage dimension";
    storage_numel *= s;
  }
  if (d.numel() == 0) return "";
  int64_t last = d.offset;
  for (size_t i = 0; i < d.dims.size(); ++i) last += (d.dims[i] - 1) * d.strides[i];
  if (last >= storage_numel)
    return "view " + shape_str(d.dims) + " strides " + shape_str(d.strides) + " offset " +
           std::to_string(d.offset) + " reaches element " + std::to_string(last) + " but the storage " +
           shape_str(d.storage) + " has only " + std::to_string(storage_numel) + " elements";
  size_t bytes = static_cast<size_t>(storage_numel) * dtype_size(d.dtype);
  if (!d.data) return "tensorData is null for a non-empty tensor";
  if (!is_device_range(d.data, bytes))
    return "tensorData " + describe_range(d.data, bytes) + " is not device memory covering the whole storage";
  return "";
}

}  // namespace

TensorDesc tensor_arg(const aclTensor* t, const char* arg, bool optional) {
  if (!t) {
    if (optional) return TensorDesc{};
    throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, std::string(arg) + " is a null aclTensor"};
  }
  if (!live(t, K_TENSOR))
    throw EmuError{acl_code::NN_ERR_PARAM_INVALID,
                   std::string(arg) + " (" + hex(t) + ") is not a live aclTensor (destroyed already?)"};
  return t->d;
}

std::vector<TensorDesc> tensor_list_arg(const aclTensorList* l, const char* arg) {
  if (!l) throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, std::string(arg) + " is a null aclTensorList"};
  if (!live(l, K_TENSOR_LIST))
    throw EmuError{acl_code::NN_ERR_PARAM_INVALID, std::string(arg) + " is not a live aclTensorList"};
  std::vector<TensorDesc> out;
  for (size_t i = 0; i < l->v.size(); ++i) {
    std::string name = std::string(arg) + "[" + std::to_string(i) + "]";
    out.push_back(tensor_arg(l->v[i], name.c_str()));
  }
  return out;
}

ScalarValue scalar_arg(const aclScalar* s, const char* arg, bool optional) {
  if (!s) {
    if (optional) return ScalarValue{};
    throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, std::string(arg) + " is a null aclScalar"};
  }
  if (!live(s, K_SCALAR))
    throw EmuError{acl_code::NN_ERR_PARAM_INVALID, std::string(arg) + " is not a live aclScalar"};
  return s->v;
}

std::vector<int64_t> int_array_arg(const aclIntArray* a, const char* arg, bool optional) {
  if (!a) {
    if (optional) return {};
    throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, std::string(arg) + " is a null aclIntArray"};
  }
  if (!live(a, K_INT_ARRAY))
    throw EmuError{acl_code::NN_ERR_PARAM_INVALID, std::string(arg) + " is not a live aclIntArray"};
  return a->v;
}

std::vector<bool> bool_array_arg(const aclBoolArray* a, const char* arg) {
  if (!a) throw EmuError{acl_code::NN_ERR_PARAM_NULLPTR, std::string(arg) + " is a null aclBoolArray"};
  if (!live(a, K_BOOL_ARRAY))
    throw EmuError{acl_code::NN_ERR_PARAM_INVALID, std::string(arg) + " is not a live aclBoolArray"};
  return a->v;
}

aclnnStatus prepare(const char* op, uint64_t* workspaceSize, aclOpExecutor** executor,
                    const std::function<OpPlan()>& build) {
  std::string phase1 = std::string(op) + "GetWorkspaceSize";
  record(phase1, "");
  int code;
  if (take_injected(phase1, &code)) return code;
  if (!workspaceSize || !executor)
    return set_error(phase1, acl_code::NN_ERR_PARAM_NULLPTR, "workspaceSize and executor must not be null");
  OpPlan plan;
  try {
    plan = build();
    if (plan.validate_on_meta) {
      int dev = current_device();
      run_on_device(dev < 0 ? 0 : dev, [&] { plan.body(true); });
    }
  } catch (const EmuError& e) {
    return set_error(phase1, e.code, std::string(op) + ": " + e.message);
  } catch (const std::exception& e) {
    return set_error(phase1, acl_code::NN_ERR_PARAM_INVALID, std::string(op) + ": " + e.what());
  }
  aclOpExecutor* ex = new aclOpExecutor();
  born(ex->h, K_EXECUTOR);
  ex->op = op;
  ex->plan = std::move(plan);
  *workspaceSize = ex->plan.workspace;
  *executor = ex;
  record(phase1 + ":result", "executor=" + std::to_string(ex->h.id) + " workspace=" + std::to_string(ex->plan.workspace));
  return acl_code::NN_SUCCESS;
}

aclnnStatus launch(const char* op, void* workspace, uint64_t wsSize, aclOpExecutor* ex, aclrtStream stream) {
  std::ostringstream d;
  d << "executor=" << (ex && live(ex, K_EXECUTOR) ? std::to_string(ex->h.id) : hex(ex)) << " workspace=" << hex(workspace)
    << " workspaceSize=" << wsSize << " stream=" << hex(stream);
  record(op, d.str());
  if (!initialized()) return set_error(op, acl_code::UNINITIALIZE, "aclInit has not been called");
  if (current_device() < 0)
    return set_error(op, acl_code::NN_ERR_RUNTIME_ERROR, "no current device on this thread (call aclrtSetDevice)");
  if (!ex) return set_error(op, acl_code::NN_ERR_PARAM_NULLPTR, "executor is null");
  if (ex->h.magic != kMagic[K_EXECUTOR])
    return set_error(op, acl_code::NN_ERR_PARAM_INVALID, "executor " + hex(ex) + " did not come from a phase-1 call");
  if (!ex->h.alive || ex->used)
    return set_error(op, acl_code::NN_ERR_PARAM_INVALID,
                     "executor " + std::to_string(ex->h.id) + " was already run or destroyed: an executor from " +
                         ex->op + "GetWorkspaceSize runs exactly once");
  if (ex->op != op)
    return set_error(op, acl_code::NN_ERR_PARAM_INVALID,
                     "executor " + std::to_string(ex->h.id) + " belongs to " + ex->op + ", not " + op);
  uint64_t need = ex->plan.workspace;
  if (need > 0) {
    if (!workspace || wsSize < need)
      return set_error(op, acl_code::NN_ERR_PARAM_INVALID,
                       "workspace of " + std::to_string(wsSize) + " bytes at " + hex(workspace) + " is smaller than the " +
                           std::to_string(need) + " bytes phase 1 asked for");
    if (!is_device_range(workspace, need))
      return set_error(op, acl_code::NN_ERR_PARAM_INVALID,
                       "workspace " + describe_range(workspace, need) + " is not device memory");
  }
  std::string why;
  Stream* st = resolve_stream(stream, &why);
  if (!st) return set_error(op, acl_code::NN_ERR_RUNTIME_ERROR, why);
  int code;
  if (take_injected(op, &code)) {
    // An injected launch failure behaves like one inside the runtime: the one-shot executor is
    // released, nothing is queued.
    ex->used = true;
    ex->h.alive = false;
    std::lock_guard<std::mutex> g(g_mu);
    g_live[K_EXECUTOR]--;
    return code;
  }
  Task t;
  t.name = op;
  t.uses = ex->plan.uses;
  if (need > 0) t.uses.push_back({reinterpret_cast<uintptr_t>(workspace), reinterpret_cast<uintptr_t>(workspace) + need});
  auto body = ex->plan.body;
  t.run = [body, workspace, need] {
    // The workspace is scratch: overwrite it, so a workspace that overlaps live data corrupts it
    // here the way a real kernel would.
    if (need > 0) std::memset(workspace, 0xA5, need);
    body(false);
  };
  enqueue(st, std::move(t));
  // Phase 2 consumes the executor (a non-repeatable executor is released after it runs).
  ex->used = true;
  ex->h.alive = false;
  std::lock_guard<std::mutex> g(g_mu);
  g_live[K_EXECUTOR]--;
  return acl_code::NN_SUCCESS;
}

}  // namespace ascend_emu

using namespace ascend_emu;

namespace {

template <typename T>
aclnnStatus destroy(T* obj, Kind k, const char* func) {
  record(func, hex(obj));
  if (!obj) return acl_code::NN_SUCCESS;
  if (obj->h.magic != kMagic[k]) return set_error(func, acl_code::NN_ERR_PARAM_INVALID, hex(obj) + " is not the right kind of object");
  if (!obj->h.alive) return set_error(func, acl_code::NN_ERR_PARAM_INVALID, hex(obj) + " was already destroyed");
  obj->h.alive = false;
  std::lock_guard<std::mutex> g(g_mu);
  g_live[k]--;
  return acl_code::NN_SUCCESS;
}

}  // namespace

EMU_EXPORT aclTensor* aclCreateTensor(const int64_t* viewDims, uint64_t viewDimsNum, aclDataType dataType,
                                      const int64_t* stride, int64_t offset, aclFormat format,
                                      const int64_t* storageDims, uint64_t storageDimsNum, void* tensorData) {
  TensorDesc d;
  if ((viewDimsNum && (!viewDims || !stride)) || (storageDimsNum && !storageDims)) {
    set_error("aclCreateTensor", acl_code::NN_ERR_PARAM_NULLPTR, "viewDims/stride/storageDims pointer is null");
    return nullptr;
  }
  d.dims.assign(viewDims, viewDims + viewDimsNum);
  d.strides.assign(stride, stride + viewDimsNum);
  d.storage.assign(storageDims, storageDims + storageDimsNum);
  d.offset = offset;
  d.dtype = dataType;
  d.format = format;
  d.data = tensorData;
  std::ostringstream o;
  o << "dtype=" << dtype_name(dataType) << " view=" << shape_str(d.dims) << " stride=" << shape_str(d.strides)
    << " offset=" << offset << " storage=" << shape_str(d.storage) << " data=" << hex(tensorData);
  record("aclCreateTensor", o.str());
  int code;
  if (take_injected("aclCreateTensor", &code)) return nullptr;
  std::string why = check_desc(d);
  if (!why.empty()) {
    set_error("aclCreateTensor", acl_code::NN_ERR_PARAM_INVALID, why);
    return nullptr;
  }
  aclTensor* t = new aclTensor();
  born(t->h, K_TENSOR);
  t->d = std::move(d);
  return t;
}

EMU_EXPORT aclnnStatus aclDestroyTensor(const aclTensor* tensor) {
  return destroy(const_cast<aclTensor*>(tensor), K_TENSOR, "aclDestroyTensor");
}

EMU_EXPORT aclScalar* aclCreateScalar(void* value, aclDataType dataType) {
  record("aclCreateScalar", std::string("dtype=") + dtype_name(dataType));
  int code;
  if (take_injected("aclCreateScalar", &code)) return nullptr;
  if (!value) {
    set_error("aclCreateScalar", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  ScalarValue v;
  v.dtype = dataType;
  switch (dataType) {
    case ACL_FLOAT: v.f = *static_cast<float*>(value); break;
    case ACL_DOUBLE: v.f = *static_cast<double*>(value); break;
    case ACL_INT64: v.i = *static_cast<int64_t*>(value); break;
    case ACL_INT32: v.i = *static_cast<int32_t*>(value); break;
    case ACL_INT16: v.i = *static_cast<int16_t*>(value); break;
    case ACL_INT8: v.i = *static_cast<int8_t*>(value); break;
    case ACL_UINT8: v.i = *static_cast<uint8_t*>(value); break;
    case ACL_BOOL: v.b = *static_cast<bool*>(value); break;
    default:
      set_error("aclCreateScalar", acl_code::NN_ERR_PARAM_INVALID,
                std::string("scalar dataType ") + dtype_name(dataType) + " is not supported by the emulator");
      return nullptr;
  }
  aclScalar* s = new aclScalar();
  born(s->h, K_SCALAR);
  s->v = v;
  return s;
}

EMU_EXPORT aclnnStatus aclDestroyScalar(const aclScalar* scalar) {
  return destroy(const_cast<aclScalar*>(scalar), K_SCALAR, "aclDestroyScalar");
}

EMU_EXPORT aclIntArray* aclCreateIntArray(const int64_t* value, uint64_t size) {
  record("aclCreateIntArray", "size=" + std::to_string(size));
  if (size && !value) {
    set_error("aclCreateIntArray", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  aclIntArray* a = new aclIntArray();
  born(a->h, K_INT_ARRAY);
  a->v.assign(value, value + size);
  return a;
}

EMU_EXPORT aclnnStatus aclDestroyIntArray(const aclIntArray* array) {
  return destroy(const_cast<aclIntArray*>(array), K_INT_ARRAY, "aclDestroyIntArray");
}

EMU_EXPORT aclBoolArray* aclCreateBoolArray(const bool* value, uint64_t size) {
  record("aclCreateBoolArray", "size=" + std::to_string(size));
  if (size && !value) {
    set_error("aclCreateBoolArray", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  aclBoolArray* a = new aclBoolArray();
  born(a->h, K_BOOL_ARRAY);
  a->v.assign(value, value + size);
  return a;
}

EMU_EXPORT aclnnStatus aclDestroyBoolArray(const aclBoolArray* array) {
  return destroy(const_cast<aclBoolArray*>(array), K_BOOL_ARRAY, "aclDestroyBoolArray");
}

EMU_EXPORT aclFloatArray* aclCreateFloatArray(const float* value, uint64_t size) {
  record("aclCreateFloatArray", "size=" + std::to_string(size));
  if (size && !value) {
    set_error("aclCreateFloatArray", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  aclFloatArray* a = new aclFloatArray();
  born(a->h, K_FLOAT_ARRAY);
  a->v.assign(value, value + size);
  return a;
}

EMU_EXPORT aclnnStatus aclDestroyFloatArray(const aclFloatArray* array) {
  return destroy(const_cast<aclFloatArray*>(array), K_FLOAT_ARRAY, "aclDestroyFloatArray");
}

// A tensor list takes ownership of its tensors: destroying the list destroys them.
EMU_EXPORT aclTensorList* aclCreateTensorList(const aclTensor* const* value, uint64_t size) {
  record("aclCreateTensorList", "size=" + std::to_string(size));
  if (size && !value) {
    set_error("aclCreateTensorList", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  for (uint64_t i = 0; i < size; ++i)
    if (!live(value[i], K_TENSOR)) {
      set_error("aclCreateTensorList", acl_code::NN_ERR_PARAM_INVALID, "element " + std::to_string(i) + " is not a live aclTensor");
      return nullptr;
    }
  aclTensorList* l = new aclTensorList();
  born(l->h, K_TENSOR_LIST);
  for (uint64_t i = 0; i < size; ++i) l->v.push_back(const_cast<aclTensor*>(value[i]));
  return l;
}

EMU_EXPORT aclnnStatus aclDestroyTensorList(const aclTensorList* list) {
  aclTensorList* l = const_cast<aclTensorList*>(list);
  aclnnStatus st = destroy(l, K_TENSOR_LIST, "aclDestroyTensorList");
  if (st != acl_code::NN_SUCCESS || !l) return st;
  for (aclTensor* t : l->v) {
    aclnnStatus s2 = destroy(t, K_TENSOR, "aclDestroyTensorList:element");
    if (s2 != acl_code::NN_SUCCESS) return s2;
  }
  return acl_code::NN_SUCCESS;
}

EMU_EXPORT aclScalarList* aclCreateScalarList(const aclScalar* const* value, uint64_t size) {
  record("aclCreateScalarList", "size=" + std::to_string(size));
  if (size && !value) {
    set_error("aclCreateScalarList", acl_code::NN_ERR_PARAM_NULLPTR, "value is null");
    return nullptr;
  }
  aclScalarList* l = new aclScalarList();
  born(l->h, K_SCALAR_LIST);
  for (uint64_t i = 0; i < size; ++i) l->v.push_back(const_cast<aclScalar*>(value[i]));
  return l;
}

EMU_EXPORT aclnnStatus aclDestroyScalarList(const aclScalarList* list) {
  aclScalarList* l = const_cast<aclScalarList*>(list);
  aclnnStatus st = destroy(l, K_SCALAR_LIST, "aclDestroyScalarList");
  if (st != acl_code::NN_SUCCESS || !l) return st;
  for (aclScalar* s : l->v) destroy(s, K_SCALAR, "aclDestroyScalarList:element");
  return acl_code::NN_SUCCESS;
}

// Releases an executor that phase 1 created but that will not be run.
EMU_EXPORT aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor) {
  return destroy(executor, K_EXECUTOR, "aclDestroyAclOpExecutor");
}

// ---- emulator-only introspection -----------------------------------------------------------

EMU_EXPORT const char* aclEmuObjectsJson() {
  static thread_local std::string out;
  std::lock_guard<std::mutex> g(g_mu);
  std::ostringstream o;
  o << "{\"live\":{";
  for (int k = 0; k < K_COUNT; ++k) o << (k ? "," : "") << "\"" << kKindNames[k] << "\":" << g_live[k];
  o << "},\"created\":{";
  for (int k = 0; k < K_COUNT; ++k) o << (k ? "," : "") << "\"" << kKindNames[k] << "\":" << g_created[k];
  o << "}}";
  out = o.str();
  return out.c_str();
}

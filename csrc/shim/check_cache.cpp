#include "check_cache.h"

#include <ATen/Context.h>
#include <c10/core/DefaultDtype.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace deeplink {
namespace {

// What kind of value follows in a key; every argument starts with one.
enum Tag : int64_t {
  kNone = 1, kUndefined, kDeviceTensor, kHostScalar, kBool, kInt, kDouble, kComplex, kString, kDevice, kIntList,
  kDoubleList, kBoolList, kTensorList, kOptionalTensorList, kGenerator
};

int64_t bits_of(double d) {
  int64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// The storages of one call's deeplink tensors, numbered in order of first appearance.
using Storages = c10::SmallVector<const c10::StorageImpl*, 4>;

bool put_tensor(const at::Tensor& t, Storages& storages, CallKey& key) {
  if (!t.defined()) {
    key.push_back(kUndefined);
    return true;
  }
  if (t.layout() != c10::kStrided || t._is_zerotensor()) return false;
  if (t.device().type() == c10::DeviceType::PrivateUse1) {
    const c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
    int64_t ordinal = 0;
    while (ordinal < static_cast<int64_t>(storages.size()) && storages[ordinal] != s) ++ordinal;
    if (ordinal == static_cast<int64_t>(storages.size())) storages.push_back(s);
    key.push_back(kDeviceTensor);
    key.push_back(ordinal);
    key.push_back(static_cast<int64_t>(s->nbytes()));
    key.push_back(t.device().index());
  } else if (t.device().is_cpu() && t.dim() == 0) {
    // Passed to the meta kernel as it is: a kernel could read its value, so the value is in the key.
    key.push_back(kHostScalar);
    key.push_back(t.unsafeGetTensorImpl()->is_wrapped_number());
    int64_t value = 0;
    const size_t size = t.element_size();
    if (size > sizeof value) return false;  // complex128
    std::memcpy(&value, t.const_data_ptr(), size);
    key.push_back(value);
  } else {
    return false;
  }
  key.push_back(static_cast<int64_t>(t.scalar_type()) | (int64_t(t.is_conj()) << 16) | (int64_t(t.is_neg()) << 17));
  key.push_back(t.dim());
  key.append(t.sizes().begin(), t.sizes().end());
  key.append(t.strides().begin(), t.strides().end());
  key.push_back(t.storage_offset());
  return true;
}

bool put_value(const c10::IValue& v, Storages& storages, CallKey& key) {
  if (v.isNone()) {
    key.push_back(kNone);
  } else if (v.isTensor()) {
    return put_tensor(v.toTensor(), storages, key);
  } else if (v.isBool()) {
    key.push_back(kBool);
    key.push_back(v.toBool());
  } else if (v.isInt()) {
    key.push_back(kInt);
    key.push_back(v.toInt());
  } else if (v.isDouble()) {
    key.push_back(kDouble);
    key.push_back(bits_of(v.toDouble()));
  } else if (v.isComplexDouble()) {
    const c10::complex<double> c = v.toComplexDouble();
    key.push_back(kComplex);
    key.push_back(bits_of(c.real()));
    key.push_back(bits_of(c.imag()));
  } else if (v.isString()) {
    const std::string& s = v.toStringRef();
    key.push_back(kString);
    key.push_back(static_cast<int64_t>(s.size()));
    for (size_t i = 0; i < s.size(); i += 8) {
      int64_t word = 0;
      std::memcpy(&word, s.data() + i, std::min<size_t>(8, s.size() - i));
      key.push_back(word);
    }
  } else if (v.isDevice()) {
    key.push_back(kDevice);
    key.push_back(static_cast<int64_t>(v.toDevice().type()));
    key.push_back(v.toDevice().index());
  } else if (v.isGenerator()) {
    key.push_back(kGenerator);  // the meta run gets None for it
  } else if (v.isIntList()) {
    key.push_back(kIntList);
    const auto list = v.toIntList();
    key.push_back(static_cast<int64_t>(list.size()));
    for (int64_t i : list) key.push_back(i);
  } else if (v.isDoubleList()) {
    key.push_back(kDoubleList);
    const auto list = v.toDoubleList();
    key.push_back(static_cast<int64_t>(list.size()));
    for (double d : list) key.push_back(bits_of(d));
  } else if (v.isBoolList()) {
    key.push_back(kBoolList);
    const auto list = v.toBoolList();
    key.push_back(static_cast<int64_t>(list.size()));
    for (bool b : list) key.push_back(b);
  } else if (v.isTensorList()) {
    key.push_back(kTensorList);
    const auto list = v.toTensorList();
    key.push_back(static_cast<int64_t>(list.size()));
    for (const at::Tensor& t : list)
      if (!put_tensor(t, storages, key)) return false;
  } else if (v.isList()) {  // Tensor?[] (index, index_put_)
    key.push_back(kOptionalTensorList);
    const auto& list = v.toListRef();
    key.push_back(static_cast<int64_t>(list.size()));
    for (const c10::IValue& e : list) {
      if (e.isNone()) key.push_back(kNone);
      else if (!e.isTensor() || !put_tensor(e.toTensor(), storages, key)) return false;
    }
  } else {
    return false;  // symbolic ints, objects, tuples, ...: not representable
  }
  return true;
}

struct KeyHash {
  size_t operator()(const CallKey& k) const {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ k.size();
    for (int64_t w : k) {
      h ^= static_cast<uint64_t>(w) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
      h *= 0xff51afd7ed558ccdull;
    }
    return static_cast<size_t>(h ^ (h >> 33));
  }
};

// Never destroyed: calls may still run on other threads at exit.
std::shared_mutex& g_mutex = *new std::shared_mutex();
auto& g_verdicts = *new std::unordered_map<CallKey, VerdictPtr, KeyHash>();
std::atomic<bool> g_enabled{true};

TensorMeta tensor_meta(const at::Tensor& t) {
  TensorMeta m;
  m.defined = t.defined();
  if (!m.defined) return m;
  m.on_host = t.device().is_cpu();
  m.dtype = t.scalar_type();
  m.sizes.assign(t.sizes().begin(), t.sizes().end());
  return m;
}

}  // namespace

OutputMeta output_meta(const c10::FunctionSchema& schema, const torch::jit::Stack& stack) {
  const size_t m = schema.returns().size();
  OutputMeta out(m);
  for (size_t i = 0; i < m && i < stack.size(); ++i) {
    const c10::IValue& v = stack[stack.size() - m + i];
    if (v.isTensor()) {
      out[i].kind = ReturnMeta::Kind::Tensor;
      out[i].tensors.push_back(tensor_meta(v.toTensor()));
    } else if (v.isTensorList()) {
      out[i].kind = ReturnMeta::Kind::TensorList;
      for (const at::Tensor& t : v.toTensorList()) out[i].tensors.push_back(tensor_meta(t));
    } else if (v.isNone() && schema.returns()[i].type()->kind() == c10::TypeKind::TensorType) {
      out[i].kind = ReturnMeta::Kind::Tensor;  // an undefined tensor comes back as None
      out[i].tensors.emplace_back();
    }
  }
  return out;
}

bool call_signature(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start, size_t n,
                    CallKey& key) {
  key.push_back(reinterpret_cast<int64_t>(&op.schema()));
  key.push_back(static_cast<int64_t>(c10::typeMetaToScalarType(c10::get_default_dtype())) |
                (int64_t(at::globalContext().deterministicAlgorithms()) << 16));
  Storages storages;
  for (size_t i = 0; i < n; ++i)
    if (!put_value(stack[start + i], storages, key)) return false;
  return true;
}

VerdictPtr cached_verdict(const CallKey& key) {
  std::shared_lock<std::shared_mutex> lock(g_mutex);
  auto it = g_verdicts.find(key);
  return it == g_verdicts.end() ? nullptr : it->second;
}

void remember_verdict(const CallKey& key, VerdictPtr verdict) {
  std::unordered_map<CallKey, VerdictPtr, KeyHash> dropped;  // freed outside the lock
  std::unique_lock<std::shared_mutex> lock(g_mutex);
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  if (g_verdicts.size() >= kMaxVerdicts) dropped.swap(g_verdicts);
  g_verdicts.emplace(key, std::move(verdict));
}

void clear_verdicts() {
  std::unordered_map<CallKey, VerdictPtr, KeyHash> dropped;
  std::unique_lock<std::shared_mutex> lock(g_mutex);
  dropped.swap(g_verdicts);
}

bool verdict_cache_enabled() { return g_enabled.load(std::memory_order_relaxed); }

void set_verdict_cache_enabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
  if (!enabled) clear_verdicts();
}

size_t verdict_cache_size() {
  std::shared_lock<std::shared_mutex> lock(g_mutex);
  return g_verdicts.size();
}

}  // namespace deeplink

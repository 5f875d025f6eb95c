#include "arg_checks.h"

#include "host_mirror.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/core/Generator.h>
#include <c10/core/Allocator.h>
#include <c10/util/SmallVector.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

namespace py = pybind11;

namespace deeplink {
namespace {

bool on_deeplink(const at::Tensor& t) { return t.defined() && t.device().type() == c10::DeviceType::PrivateUse1; }

// fn(tensor, schema position) for every deeplink tensor among a call's arguments.
template <typename F>
void for_each_tensor(const torch::jit::Stack& stack, size_t start, size_t n, F fn) {
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      if (on_deeplink(v.toTensor())) fn(v.toTensor(), i);
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorList())
        if (on_deeplink(t)) fn(t, i);
    } else if (v.isList()) {
      for (const c10::IValue& e : v.toListRef())
        if (e.isTensor() && on_deeplink(e.toTensor())) fn(e.toTensor(), i);
    }
  }
}

// A copy of a call's arguments with deeplink tensors mapped through `tensor`, deeplink devices
// replaced by `device` and generators by `generator`.
template <typename T>
torch::jit::Stack map_args(const torch::jit::Stack& stack, size_t start, size_t n, T tensor, c10::Device device,
                           const c10::IValue& generator) {
  torch::jit::Stack out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      out.emplace_back(on_deeplink(v.toTensor()) ? tensor(v.toTensor()) : v.toTensor());
    } else if (v.isTensorList()) {
      c10::List<at::Tensor> list;
      for (const at::Tensor& t : v.toTensorList()) list.push_back(on_deeplink(t) ? tensor(t) : t);
      out.emplace_back(std::move(list));
    } else if (v.isList() && v.toListRef().size() > 0 &&
               std::any_of(v.toListRef().begin(), v.toListRef().end(), [](const c10::IValue& e) { return e.isTensor(); })) {
      c10::List<std::optional<at::Tensor>> list;
      for (const c10::IValue& e : v.toListRef())
        list.push_back(e.isTensor() ? std::optional<at::Tensor>(on_deeplink(e.toTensor()) ? tensor(e.toTensor())
                                                                                      : e.toTensor())
                                    : std::nullopt);
      out.emplace_back(std::move(list));
    } else if (v.isDevice() && v.toDevice().type() == c10::DeviceType::PrivateUse1) {
      out.emplace_back(device);
    } else if (v.isGenerator()) {
      out.push_back(generator);
    } else {
      out.push_back(v);
    }
  }
  return out;
}

// The default CPU generator's state, put back when the check is over: a check must not draw
// from the generator a program's CPU random numbers come from.
struct KeepCpuRng {
  KeepCpuRng() : gen(at::detail::getDefaultCPUGenerator()), state(gen.get_state()) {}
  ~KeepCpuRng() { gen.set_state(state); }
  at::Generator gen;
  at::Tensor state;
};

bool mentions(const std::string& text, std::initializer_list<const char*> words) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* w : words)
    if (lower.find(w) != std::string::npos) return true;
  return false;
}

// Errors that say "the meta kernel cannot judge this", not "these arguments are wrong".
bool meta_cannot_judge(const std::string& message) {
  return mentions(message, {"meta", "data-dependent", "data dependent", "have storage", "data pointer", "unbacked",
                            "symint", "fake"});
}

// Runs the call once on a CPU mirror of its arguments (data copied, nothing written back), so that
// whatever ATen's CPU kernel raises propagates. False when the CPU cannot run it at all. With
// `outputs`, the metadata of what it returned.
bool run_on_cpu_mirror(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start, bool lends_rng,
                       OutputMeta* outputs = nullptr) {
  const size_t n = op.schema().arguments().size();
  HostMirror mirror;
  for_each_tensor(stack, start, n, [&](const at::Tensor& t, size_t) { mirror.add(t); });
  at::Generator scratch = at::detail::createCPUGenerator();
  torch::jit::Stack dry = map_args(
      stack, start, n, [&](const at::Tensor& t) { return mirror.view(t); }, c10::Device(c10::DeviceType::CPU),
      c10::IValue(scratch));
  std::optional<KeepCpuRng> keep;
  if (lends_rng) keep.emplace();
  try {
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), &dry);
  } catch (const c10::NotImplementedError&) {
    return false;  // no CPU kernel, or not for this dtype: nothing to compare with
  }
  if (outputs) *outputs = output_meta(op.schema(), dry);
  return true;
}

}  // namespace

void check_overlap_like_aten(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start,
                             const std::vector<bool>& writes, bool lends_rng) {
  const size_t n = op.schema().arguments().size();
  c10::SmallVector<at::Tensor, 8> all;
  c10::SmallVector<size_t, 4> written;  // indices into `all`
  for_each_tensor(stack, start, n, [&](const at::Tensor& t, size_t i) {
    if (writes[i]) written.push_back(all.size());
    all.push_back(t);  // empty ones too: passing one tensor twice is a full overlap all the same
  });
  bool overlap = false;
  for (size_t w : written) {
    overlap |= at::has_internal_overlap(all[w]) == at::MemOverlap::Yes;
    for (size_t k = 0; k < all.size() && !overlap; ++k) {
      if (k == w) continue;
      const at::MemOverlapStatus s = at::get_overlap_status(all[w], all[k]);
      overlap = s == at::MemOverlapStatus::Partial || s == at::MemOverlapStatus::Full;
    }
    if (overlap) break;
  }
  // Rare: ask ATen's CPU kernel, on CPU memory that overlaps the same way.
  if (overlap) run_on_cpu_mirror(op, stack, start, lends_rng);
}

VerdictPtr check_on_meta(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start,
                         bool lends_rng, std::atomic<bool>& no_meta) {
  if (no_meta.load(std::memory_order_relaxed)) return nullptr;
  const size_t n = op.schema().arguments().size();
  CallKey key;
  const bool cached = verdict_cache_enabled() && call_signature(op, stack, start, n, key);
  if (cached) {
    if (VerdictPtr v = cached_verdict(key)) return v;
  }
  c10::SmallVector<std::pair<c10::StorageImpl*, c10::Storage>, 4> storages;
  c10::SmallVector<std::pair<c10::TensorImpl*, at::Tensor>, 4> twins;
  auto twin = [&](const at::Tensor& t) -> at::Tensor {
    for (const auto& [impl, m] : twins)
      if (impl == t.unsafeGetTensorImpl()) return m;
    c10::StorageImpl* si = t.storage().unsafeGetStorageImpl();
    const c10::Storage* storage = nullptr;
    for (const auto& [impl, s] : storages)
      if (impl == si) storage = &s;
    if (storage == nullptr) {
      storages.emplace_back(si, c10::Storage(c10::make_intrusive<c10::StorageImpl>(
                                    c10::StorageImpl::use_byte_size_t(), si->nbytes(),
                                    c10::DataPtr(nullptr, c10::Device(c10::DeviceType::Meta)),
                                    c10::GetAllocator(c10::DeviceType::Meta), /*resizable=*/true)));
      storage = &storages.back().second;
    }
    auto impl = c10::make_intrusive<c10::TensorImpl>(c10::Storage(*storage),
                                                     c10::DispatchKeySet(c10::DispatchKey::Meta), t.dtype());
    impl->set_sizes_and_strides(t.sizes(), t.strides(), t.storage_offset());
    if (t.is_conj()) impl->_set_conj(true);
    if (t.is_neg()) impl->_set_neg(true);
    at::Tensor m(std::move(impl));
    twins.emplace_back(t.unsafeGetTensorImpl(), m);
    return m;
  };
  torch::jit::Stack meta = map_args(stack, start, n, twin, c10::Device(c10::DeviceType::Meta), c10::IValue());
  // A meta kernel is only a first opinion: when it objects, the CPU kernel (on a mirror of the
  // data) has the last word, and its exception is the one raised. The meta objection stands
  // alone only when the CPU cannot run the call; a call the CPU accepts goes on to the kernel.
  // Neither outcome is cached: the CPU's answer depends on the data.
  auto verdict = std::make_shared<CheckVerdict>();
  try {
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::Meta), &meta);
    verdict->judged = true;
    verdict->outputs = output_meta(op.schema(), meta);
  } catch (const c10::NotImplementedError& e) {
    if (mentions(e.what(), {"could not run"})) no_meta.store(true, std::memory_order_relaxed);  // no meta kernel
    return nullptr;
  } catch (const c10::Error& e) {
    if (!meta_cannot_judge(e.what_without_backtrace())) {
      if (!run_on_cpu_mirror(op, stack, start, lends_rng)) throw;
      return nullptr;
    }
  } catch (py::error_already_set& e) {  // a meta kernel written in Python
    bool judged;
    {
      py::gil_scoped_acquire gil;
      std::string type = py::str(e.type().attr("__name__"));
      judged = !e.matches(PyExc_NotImplementedError) && !mentions(type, {"dynamicoutputshape", "datadependent",
                                                                         "unsupportedoperator"}) &&
               !meta_cannot_judge(std::string(py::str(e.value())));
    }
    if (judged) {
      if (!run_on_cpu_mirror(op, stack, start, lends_rng)) throw;
      return nullptr;
    }
  }
  // Accepted, or "cannot judge without data": both follow from the signature alone.
  if (cached) remember_verdict(key, verdict);
  return verdict;
}

std::optional<OutputMeta> cpu_output_meta(const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                                          size_t start, bool lends_rng) {
  OutputMeta outputs;
  try {
    if (!run_on_cpu_mirror(op, stack, start, lends_rng, &outputs)) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return outputs;
}

}  // namespace deeplink

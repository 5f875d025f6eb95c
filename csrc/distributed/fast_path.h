// The zero-copy fast path of "gloo on host views" (deeplink/distributed/host_views.py), in C++.
//
// The Python engine handles every case (layouts, dtypes, reduce ops gloo lacks, staging), at
// some tens of microseconds per call. For the cases that need none of that, which are the hot
// ones (DDP's gradient buckets, FSDP's all-gather and reduce-scatter, plain all_reduce), this
// path does in C++ what the engine would: check the tensors, alias them as CPU tensors, call the
// group's gloo, wrap the Work, count the call. Anything else returns false from takes*() and
// goes to the engine.
//
// Which backend owns a tensor is read from its storage the way the shim records it (an OwnerTag
// as the context of the allocator's DataPtr, csrc/shim/allocator.h), for the DataPtr deleters
// learned from sample tensors of the backend at set-up: memory of any other kind goes the slow way.
#pragma once

#include <torch/extension.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "../shim/allocator.h"
#include "works.h"

namespace deeplink_dist {

enum Collective { ALL_REDUCE, BROADCAST, ALL_GATHER_INTO_TENSOR, REDUCE_SCATTER_TENSOR, N_COLLECTIVES };
// Names as the engine counts them (deeplink/distributed/stats.py FAST_PATH_COLLECTIVES, same order).
inline const char* collective_name(int c) {
  static const char* names[] = {"all_reduce", "broadcast", "all_gather_into_tensor", "reduce_scatter_tensor"};
  return names[c];
}

class HostViewFastPath {
 public:
  // dtype_samples: one (empty) tensor per dtype it takes; ops: ReduceOp.RedOpType values it takes;
  // counters: int64[N_COLLECTIVES][2] (calls, bytes) that Python reads (deeplink/distributed/stats.py).
  HostViewFastPath(intrusive_ptr<c10d::Backend> gloo, int slot, const std::vector<at::Tensor>& dtype_samples,
                   const std::vector<int64_t>& ops, std::string label, at::Tensor counters)
      : gloo_(std::move(gloo)), slot_(slot), label_(std::move(label)), counters_(std::move(counters)) {
    TORCH_CHECK(counters_.is_contiguous() && counters_.scalar_type() == at::kLong &&
                    counters_.numel() == 2 * N_COLLECTIVES && counters_.device().is_cpu(),
                "fast path counters: expected a contiguous CPU int64 tensor of ", 2 * N_COLLECTIVES, " elements");
    for (const auto& t : dtype_samples) dtypes_ |= 1ULL << static_cast<int>(t.scalar_type());
    for (int64_t o : ops) ops_ |= 1U << o;
  }

  void learn_owner(const at::Tensor& sample) {
    auto del = sample.storage().data_ptr().get_deleter();
    if (std::find(deleters_.begin(), deleters_.end(), del) == deleters_.end()) deleters_.push_back(del);
  }
  void set_label(std::string label) {
    std::lock_guard<std::mutex> g(label_mutex_);
    label_ = std::move(label);
  }

  bool takes(const at::Tensor& t) const {
    if (t.device().type() != c10::DeviceType::PrivateUse1 || !t.is_contiguous()) return false;
    if (!(dtypes_ >> static_cast<int>(t.scalar_type()) & 1)) return false;
    const c10::DataPtr& dp = t.storage().data_ptr();
    if (std::find(deleters_.begin(), deleters_.end(), dp.get_deleter()) == deleters_.end()) return false;
    auto* tag = static_cast<const deeplink::OwnerTag*>(dp.get_context());
    return tag != nullptr && tag->backend == slot_;
  }
  bool takes(const std::vector<at::Tensor>& ts) const {
    return !ts.empty() && std::all_of(ts.begin(), ts.end(), [this](const at::Tensor& t) { return takes(t); });
  }
  bool takes_op(const c10d::ReduceOp& op) const { return ops_ >> static_cast<int>(op.op_) & 1; }

  intrusive_ptr<Work> allreduce(std::vector<at::Tensor>& ts, const c10d::AllreduceOptions& o) {
    auto views = host_views(ts);
    return done(ALL_REDUCE, gloo_->allreduce(views, o), ts);
  }
  intrusive_ptr<Work> broadcast(std::vector<at::Tensor>& ts, const c10d::BroadcastOptions& o) {
    auto views = host_views(ts);
    return done(BROADCAST, gloo_->broadcast(views, o), ts);
  }
  intrusive_ptr<Work> allgather_into(at::Tensor& out, at::Tensor& in, const c10d::AllgatherOptions& o) {
    at::Tensor vo = host_view(out), vi = host_view(in);
    return done(ALL_GATHER_INTO_TENSOR, gloo_->_allgather_base(vo, vi, o), {out}, in.nbytes());
  }
  intrusive_ptr<Work> reduce_scatter_into(at::Tensor& out, at::Tensor& in, const c10d::ReduceScatterOptions& o) {
    at::Tensor vo = host_view(out), vi = host_view(in);
    return done(REDUCE_SCATTER_TENSOR, gloo_->_reduce_scatter_base(vo, vi, o), {out}, in.nbytes());
  }

 private:
  // A CPU tensor over the same bytes; it keeps the storage alive while gloo holds it.
  static at::Tensor host_view(const at::Tensor& t) {
    c10::Storage keep = t.storage();
    void* base = static_cast<char*>(keep.mutable_data()) + t.storage_offset() * t.itemsize();
    return at::from_blob(base, t.sizes(), t.strides(), [keep](void*) {}, t.options().device(c10::kCPU));
  }
  static std::vector<at::Tensor> host_views(const std::vector<at::Tensor>& ts) {
    std::vector<at::Tensor> out;
    out.reserve(ts.size());
    for (const auto& t : ts) out.push_back(host_view(t));
    return out;
  }

  // `outputs` become the Work's result; `extra_bytes` counts inputs that are not outputs.
  intrusive_ptr<Work> done(Collective c, intrusive_ptr<Work> inner, std::vector<at::Tensor> tensors,
                           uint64_t extra_bytes = 0) {
    int64_t nbytes = static_cast<int64_t>(extra_bytes);
    for (const auto& t : tensors) nbytes += static_cast<int64_t>(t.nbytes());
    int64_t* counts = counters_.data_ptr<int64_t>();
    __atomic_fetch_add(&counts[2 * c], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&counts[2 * c + 1], nbytes, __ATOMIC_RELAXED);
    std::string context;
    {
      std::lock_guard<std::mutex> g(label_mutex_);
      context = std::string("deeplink ") + collective_name(c) + " (" + label_ + ")";
    }
    return c10::make_intrusive<MappedWork>(std::move(inner), std::move(tensors), nullptr, std::move(context));
  }

  intrusive_ptr<c10d::Backend> gloo_;
  int slot_;
  uint64_t dtypes_ = 0;
  uint32_t ops_ = 0;
  std::vector<c10::DeleterFnPtr> deleters_;
  std::mutex label_mutex_;
  std::string label_;
  at::Tensor counters_;
};

}  // namespace deeplink_dist

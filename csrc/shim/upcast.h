// Passthrough in a wider dtype for the dtypes an ATen device lacks (upcast.cpp).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/function_schema.h>
#include <ATen/core/stack.h>

#include <optional>
#include <utility>
#include <vector>

namespace deeplink {

using UpcastPairs = std::vector<std::pair<c10::ScalarType, c10::ScalarType>>;  // (lacking dtype, computed in)

struct UpcastPlan {
  c10::ScalarType from, to;
  std::vector<std::pair<at::Tensor, at::Tensor>> written;  // (widened copy, the caller's tensor)
  // False when a dtype= argument asked for a dtype the kernel has (sum(complex32 x, dtype=complex64)):
  // fresh results already are what the caller asked for.
  bool narrow_fresh = true;
};

// Widens the arguments of one call in place when one has a dtype listed in `pairs`.
std::optional<UpcastPlan> widen_arguments(const c10::FunctionSchema& schema, const UpcastPairs& pairs,
                                          const std::vector<bool>& writes, torch::jit::Stack& stack, size_t start);

// After the kernel ran: copies results into the written arguments and narrows fresh results.
void narrow_results(const UpcastPlan& plan, const c10::FunctionSchema& schema, torch::jit::Stack& stack);

}  // namespace deeplink

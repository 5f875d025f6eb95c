// deeplink tensors are strided (dense) only: no sparse, quantized or mkldnn layouts (layouts.cpp).
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <string>

namespace deeplink {

// Raises NotImplementedError naming the op, the layout and what to do when a kernel run for a
// deeplink call (pass-through or CPU fallback) returned a tensor deeplink cannot hold, such as
// x.to_sparse(); the op's results are the top schema().returns().size() entries of `stack`.
void require_strided_results(const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                             const std::string& backend);

}  // namespace deeplink

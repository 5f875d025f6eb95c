// Passthrough with a wider dtype: for the dtypes a backend's ATen device lacks for an op (ATen CPU
// has no integer histc, no complex32 exp, no float16 FFT, ... while CUDA has them), the arguments
// of that dtype are converted to a dtype the kernel takes, the kernel runs, and the results come
// back in the dtypes CUDA would return. Written arguments (in-place self, out=) get the result
// copied back into them. The backend lists the pairs per op (Passthrough.upcast in deeplink/kernels.py).
#include "upcast.h"

#include <ATen/ATen.h>

namespace deeplink {
namespace {

// The widened counterpart of `t` for the plan, or nullopt when `t` needs none.
c10::ScalarType wider(const UpcastPlan& p, c10::ScalarType t) { return t == p.from ? p.to : t; }

// What a result of dtype `r` computed in `p.to` is, in CUDA's terms: the same relation to `p.from`
// (same dtype, its real counterpart, or its complex counterpart); other dtypes (indices, counts
// promoted to int64, bools) are left as they are.
std::optional<c10::ScalarType> narrower(const UpcastPlan& p, c10::ScalarType r) {
  if (r == p.to) return p.from;
  if (c10::isComplexType(p.to) && r == c10::toRealValueType(p.to)) {
    return c10::isComplexType(p.from) ? c10::toRealValueType(p.from) : p.from;
  }
  if (!c10::isComplexType(p.to) && c10::isComplexType(r) && r == c10::toComplexType(p.to) &&
      c10::isFloatingType(p.from))
    return c10::toComplexType(p.from);
  return std::nullopt;
}

}  // namespace

std::optional<UpcastPlan> widen_arguments(const c10::FunctionSchema& schema, const UpcastPairs& pairs,
                                          const std::vector<bool>& writes, torch::jit::Stack& stack, size_t start) {
  const size_t n = schema.arguments().size();
  std::optional<UpcastPlan> plan;
  auto dtype_of = [&](const c10::IValue& v) -> std::optional<c10::ScalarType> {
    if (v.isTensor() && v.toTensor().defined()) return v.toTensor().scalar_type();
    if (v.isTensorList() && v.toTensorList().size() > 0) return v.toTensorList().get(0).scalar_type();
    return std::nullopt;
  };
  for (size_t i = 0; i < n && !plan; ++i) {
    auto d = dtype_of(stack[start + i]);
    if (!d) continue;
    for (const auto& [from, to] : pairs)
      if (*d == from) plan = UpcastPlan{from, to, {}};
  }
  if (!plan) return std::nullopt;
  for (size_t i = 0; i < n; ++i) {
    c10::IValue& v = stack[start + i];
    if (v.isTensor() && v.toTensor().defined() && v.toTensor().scalar_type() == plan->from) {
      at::Tensor t = v.toTensor();
      at::Tensor w = t.to(plan->to);
      if (writes[i]) plan->written.emplace_back(w, t);
      v = w;
    } else if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : v.toTensorList()) out.push_back(t.scalar_type() == plan->from ? t.to(plan->to) : t);
      v = std::move(out);
    } else if (v.isInt() && schema.arguments()[i].real_type()->kind() == c10::TypeKind::ScalarTypeType) {
      v = static_cast<int64_t>(wider(*plan, static_cast<c10::ScalarType>(v.toInt())));  // e.g. sum(dtype=...)
    }
  }
  return plan;
}

void narrow_results(const UpcastPlan& plan, const c10::FunctionSchema& schema, torch::jit::Stack& stack) {
  for (const auto& [wide, original] : plan.written) {
    if (original.sizes() != wide.sizes()) original.resize_(wide.sizes());  // out= the kernel resized
    original.copy_(wide);
  }
  auto narrow = [&](const at::Tensor& t) -> at::Tensor {
    if (!t.defined()) return t;
    for (const auto& [wide, original] : plan.written)
      if (t.unsafeGetTensorImpl() == wide.unsafeGetTensorImpl()) return original;
    auto target = narrower(plan, t.scalar_type());
    return target ? t.to(*target) : t;
  };
  const size_t m = schema.returns().size();
  for (size_t i = stack.size() - m; i < stack.size(); ++i) {
    c10::IValue& v = stack[i];
    if (v.isTensor()) {
      v = narrow(v.toTensor());
    } else if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : v.toTensorList()) out.push_back(narrow(t));
      v = std::move(out);
    }
  }
}

}  // namespace deeplink

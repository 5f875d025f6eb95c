// Passthrough with a wider dtype: for the dtypes a backend's ATen device lacks for an op (ATen CPU
// has no integer histc, no complex32 exp, no float16 FFT, ... while CUDA has them), the arguments
// of that dtype are converted to a dtype the kernel takes, the kernel runs, and the results come
// back in the dtypes CUDA would return. Written arguments (in-place self, out=) get the result
// copied back into them. The backend lists the pairs per op (Passthrough.upcast in deeplink/kernels.py).
#include "upcast.h"

#include <ATen/ATen.h>

namespace deeplink {
namespace {

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

// A dtype argument (`ScalarType dtype` or `ScalarType? dtype`, e.g. sum(x, dtype=...)) asks for the
// result's dtype: one the kernel lacks is widened like the tensors (the result is narrowed back to
// it); any other is passed on as asked, and the result is left in it.
bool is_dtype_argument(const c10::Argument& a) {
  c10::TypePtr t = a.real_type();
  if (t->kind() == c10::TypeKind::OptionalType) t = t->castRaw<c10::OptionalType>()->getElementType();
  return t->kind() == c10::TypeKind::ScalarTypeType;
}

}  // namespace

std::optional<UpcastPlan> widen_arguments(const c10::FunctionSchema& schema, const UpcastPairs& pairs,
                                          const std::vector<bool>& writes, torch::jit::Stack& stack, size_t start) {
  const size_t n = schema.arguments().size();
  std::optional<UpcastPlan> plan;
  // The plan's dtype comes from a tensor argument, or from a dtype= argument asking for a result
  // dtype the kernel lacks (sum(float32 x, dtype=complex32)).
  auto dtype_of = [&](size_t i) -> std::optional<c10::ScalarType> {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor() && v.toTensor().defined()) return v.toTensor().scalar_type();
    if (v.isTensorList() && v.toTensorList().size() > 0) return v.toTensorList().get(0).scalar_type();
    if (v.isInt() && is_dtype_argument(schema.arguments()[i])) return static_cast<c10::ScalarType>(v.toInt());
    return std::nullopt;
  };
  for (size_t i = 0; i < n && !plan; ++i) {
    auto d = dtype_of(i);
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
    } else if (v.isInt() && is_dtype_argument(schema.arguments()[i])) {  // e.g. sum(dtype=...)
      const auto asked = static_cast<c10::ScalarType>(v.toInt());
      if (asked == plan->from)
        v = static_cast<int64_t>(plan->to);
      else
        plan->narrow_fresh = false;
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
    if (!plan.narrow_fresh) return t;
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

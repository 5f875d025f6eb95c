// deeplink has one tensor layout, strided: its storage is the backend's memory, and no backend
// has sparse, quantized or mkldnn kernels. An op that would make such a tensor on the device
// (x.to_sparse(), torch.quantize_per_tensor(x, ...), a sparse tensor .to("deeplink"), a factory
// with layout=torch.sparse_coo) fails with an error that says so and what to do, instead of
// ATen's "Cannot access storage of SparseTensorImpl" or "Could not run ... SparsePrivateUse1".
#include "layouts.h"

#include <ATen/ATen.h>
#include <torch/library.h>

namespace deeplink {
namespace {

// The layout as Python spells it (torch.sparse_coo, ...).
std::string layout_name(const at::Tensor& t) {
  if (t.is_quantized()) return "quantized (" + std::string(c10::toString(t.scalar_type())) + ")";
  switch (t.layout()) {
    case c10::kStrided: return t.is_nested() ? "nested (torch.jagged / strided nested)" : "torch.strided";
    case c10::kSparse: return "torch.sparse_coo";
    case c10::kSparseCsr: return "torch.sparse_csr";
    case c10::kSparseCsc: return "torch.sparse_csc";
    case c10::kSparseBsr: return "torch.sparse_bsr";
    case c10::kSparseBsc: return "torch.sparse_bsc";
    case c10::kMkldnn: return "torch._mkldnn";
    case c10::kJagged: return "torch.jagged";
    default: return "a non-strided layout";
  }
}

bool strided(const at::Tensor& t) {
  return !t.defined() || (t.layout() == c10::kStrided && !t.is_quantized() && !t.is_nested());
}

[[noreturn]] void no_such_layout(const std::string& op, const std::string& layout, const std::string& backend) {
  const std::string where = backend.empty() ? "" : " (backend '" + backend + "')";
  TORCH_CHECK_NOT_IMPLEMENTED(false, "deeplink: aten::", op, " makes a tensor of layout ", layout, " on the deeplink "
                              "device", where, ", and deeplink has strided (dense) tensors only: "
                              "no sparse, quantized or mkldnn layouts. Run this op on the CPU instead: move the "
                              "tensor there first (e.g. x.cpu().to_sparse()), and bring a dense result back with "
                              ".to_dense().to('deeplink').");
}

std::string name_of(const c10::OperatorHandle& op) {
  const auto& n = op.schema().operator_name();
  std::string name = n.name.rfind("aten::", 0) == 0 ? n.name.substr(6) : n.name;
  return n.overload_name.empty() ? name : name + "." + n.overload_name;
}

// Every call that reaches deeplink's sparse / quantized dispatch keys: factories with a sparse
// layout on the device, copies of CPU sparse or quantized tensors to it.
void layout_fallback(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack*) {
  std::string layout = keys.has(c10::DispatchKey::SparsePrivateUse1)      ? "torch.sparse_coo"
                       : keys.has(c10::DispatchKey::SparseCsrPrivateUse1) ? "a compressed sparse layout (csr/csc/bsr/bsc)"
                                                                          : "quantized";
  no_such_layout(name_of(op), layout, "");
}

}  // namespace

void require_strided_results(const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                             const std::string& backend) {
  const size_t m = op.schema().returns().size();
  for (size_t i = stack.size() - m; i < stack.size(); ++i) {
    const c10::IValue& v = stack[i];
    if (v.isTensor() && !strided(v.toTensor())) no_such_layout(name_of(op), layout_name(v.toTensor()), backend);
    if (v.isTensorList())
      for (const at::Tensor& t : v.toTensorList())
        if (!strided(t)) no_such_layout(name_of(op), layout_name(t), backend);
  }
}

}  // namespace deeplink

TORCH_LIBRARY_IMPL(_, SparsePrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&deeplink::layout_fallback>());
}
TORCH_LIBRARY_IMPL(_, SparseCsrPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&deeplink::layout_fallback>());
}
TORCH_LIBRARY_IMPL(_, QuantizedPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&deeplink::layout_fallback>());
}

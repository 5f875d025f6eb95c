#include "result_checks.h"

#include "arg_checks.h"
#include "describe.h"

#include <ATen/core/TensorBody.h>

#include <optional>
#include <sstream>

namespace deeplink {
namespace {

std::string shape_text(c10::ScalarType dtype, c10::IntArrayRef sizes) {
  std::ostringstream os;
  os << c10::toString(dtype) << sizes;
  return os.str();
}

std::string tensor_text(const at::Tensor& t) {
  std::ostringstream os;
  os << c10::toString(t.scalar_type()) << t.sizes() << " on " << t.device();
  return os.str();
}

// Which result of the op, for messages: "its result", "result 1 (indices)", "tensor 2 of its result".
std::string which(const c10::FunctionSchema& schema, size_t i, size_t k, bool list) {
  std::string s = schema.returns().size() == 1 ? "its result" : "result " + std::to_string(i);
  if (schema.returns().size() > 1 && !schema.returns()[i].name().empty()) s += " (" + schema.returns()[i].name() + ")";
  if (list) s = "tensor " + std::to_string(k) + " of " + s;
  return s;
}

const c10::Type& unwrapped(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::OptionalType ? *t->castRaw<c10::OptionalType>()->getElementType() : *t;
}

struct Checker {
  const KernelCall& call;
  const CheckVerdict* verdict;
  bool asked_cpu = false;
  std::optional<OutputMeta> cpu;

  // ATen's CPU kernel's outputs for this call, or nullopt when the CPU cannot run it (ops only CUDA
  // implements, the overrideable attention hooks). Then meta is the only opinion, and the meta
  // functions of those ops describe one device's conventions (logsumexp padded to 32, GQA heads
  // expanded, float32 logsumexp): a kernel is not failed on that word alone.
  const std::optional<OutputMeta>& cpu_reference() {
    if (!asked_cpu) {
      asked_cpu = true;
      cpu = cpu_output_meta(call.op, call.args, 0, call.lends_rng);
    }
    return cpu;
  }

  // ATen's CPU kernel agrees with the kernel's dtype and shape for this result (or cannot judge).
  bool cpu_agrees(size_t i, size_t k, const at::Tensor& t) {
    const auto& ref_outputs = cpu_reference();
    if (!ref_outputs) return true;
    if (i >= ref_outputs->size() || k >= (*ref_outputs)[i].tensors.size()) return false;
    const TensorMeta& ref = (*ref_outputs)[i].tensors[k];
    return ref.defined && ref.dtype == t.scalar_type() && t.sizes().equals(ref.sizes);
  }

  // An undefined result (None) where meta gives a tensor: fine when the CPU kernel returns none
  // there either, or cannot judge (backward hooks return None for gradients nobody asked for).
  bool cpu_allows_none(size_t i, size_t k) {
    const auto& ref_outputs = cpu_reference();
    if (!ref_outputs) return true;
    if (i >= ref_outputs->size() || k >= (*ref_outputs)[i].tensors.size()) return false;
    return !(*ref_outputs)[i].tensors[k].defined;
  }

  // The argument an in-place / out= result must be: the one with the same alias set.
  const c10::IValue* written_argument(const c10::AliasInfo& alias, std::string& name) const {
    const auto& args = call.op.schema().arguments();
    for (size_t j = 0; j < args.size() && j < call.args.size(); ++j) {
      if (args[j].alias_info() && args[j].alias_info()->beforeSets() == alias.beforeSets()) {
        name = args[j].name();
        return &call.args[j];
      }
    }
    return nullptr;
  }

  void no_input_returned(const at::Tensor& t, const std::string& what) const {
    const auto& args = call.op.schema().arguments();
    auto same = [&](const at::Tensor& in, const std::string& name) {
      if (!in.defined()) return;
      if (in.unsafeGetTensorImpl() == t.unsafeGetTensorImpl())
        raise_bad_result(call, "returned its input `" + name + "` itself as " + what + "; aten::" + call.op_name +
                                   " returns a new tensor (a caller writing to the result would change the input)");
      if (in.has_storage() && t.has_storage() && in.storage().nbytes() > 0 &&
          in.storage().unsafeGetStorageImpl() == t.storage().unsafeGetStorageImpl())
        raise_bad_result(call, "returned a view of its input `" + name + "` as " + what + "; aten::" + call.op_name +
                                   " returns a tensor with memory of its own");
    };
    for (size_t j = 0; j < args.size() && j < call.args.size(); ++j) {
      const c10::IValue& v = call.args[j];
      if (v.isTensor()) same(v.toTensor(), args[j].name());
      else if (v.isTensorList())
        for (const at::Tensor& in : v.toTensorList()) same(in, args[j].name());
    }
  }

  void check_tensor(size_t i, size_t k, bool list, const at::Tensor& t, const TensorMeta* want) {
    const auto& schema = call.op.schema();
    const c10::Argument& ret = schema.returns()[i];
    const std::string what = which(schema, i, k, list);
    if (!t.defined()) {
      if (want && want->defined && !cpu_allows_none(i, k))
        raise_bad_result(call, "returned None as " + what + " where a tensor is due (ATen gives " +
                                   shape_text(want->dtype, want->sizes) + ")");
      return;
    }
    const bool host_result = want && want->on_host;  // the reference itself returns a host tensor there
    if (t.device().type() != c10::DeviceType::PrivateUse1 && !host_result)
      raise_bad_result(call, "returned " + what + " " + tensor_text(t) + "; it must be on the deeplink device" +
                                 (call.device >= 0 ? " (deeplink:" + std::to_string(call.device) + ")" : ""));
    if (t.device().type() == c10::DeviceType::PrivateUse1 && call.device >= 0 && t.device().index() != call.device)
      raise_bad_result(call, "returned " + what + " " + tensor_text(t) + "; the call runs on deeplink:" +
                                 std::to_string(call.device));
    const c10::AliasInfo* alias = ret.alias_info();
    if (alias && alias->isWrite()) {
      std::string name;
      const c10::IValue* arg = written_argument(*alias, name);
      if (arg && arg->isTensor() && arg->toTensor().unsafeGetTensorImpl() != t.unsafeGetTensorImpl())
        raise_bad_result(call, "returned a new tensor as " + what + " of an in-place / out= op; it must write into `" +
                                   name + "` and return it (the new tensor would be dropped, `" + name +
                                   "` left unchanged)");
    } else if (!alias) {
      no_input_returned(t, what);
    }
    if (!want || !want->defined) return;
    const bool dtype_ok = t.scalar_type() == want->dtype;
    const bool shape_ok = t.sizes().equals(want->sizes) || call.op.hasTag(at::Tag::dynamic_output_shape);
    if ((dtype_ok && shape_ok) || cpu_agrees(i, k, t)) return;
    raise_bad_result(call, "returned " + what + " " + tensor_text(t) + " where ATen gives " +
                               shape_text(want->dtype, want->sizes) + " (wrong " +
                               (dtype_ok ? "shape" : shape_ok ? "dtype" : "dtype and shape") + ")");
  }

  void run(const torch::jit::Stack& stack) {
    const auto& rets = call.op.schema().returns();
    const size_t m = rets.size();
    const OutputMeta* expect = verdict && verdict->judged ? &verdict->outputs : nullptr;
    for (size_t i = 0; i < m; ++i) {
      const c10::IValue& v = stack[stack.size() - m + i];
      const ReturnMeta* want = expect && i < expect->size() ? &(*expect)[i] : nullptr;
      const c10::Type& type = unwrapped(rets[i].type());
      if (type.kind() == c10::TypeKind::TensorType) {
        const at::Tensor t = v.isTensor() ? v.toTensor() : at::Tensor();
        check_tensor(i, 0, false, t, want && want->kind == ReturnMeta::Kind::Tensor ? &want->tensors[0] : nullptr);
      } else if (type.kind() == c10::TypeKind::ListType && v.isTensorList()) {
        const auto list = v.toTensorList();
        const bool known = want && want->kind == ReturnMeta::Kind::TensorList;
        if (known && want->tensors.size() != list.size() && !call.op.hasTag(at::Tag::dynamic_output_shape))
          raise_bad_result(call, "returned " + std::to_string(list.size()) + " tensors in " + which(call.op.schema(), i, 0, false) +
                                     " where ATen gives " + std::to_string(want->tensors.size()));
        for (size_t k = 0; k < list.size(); ++k)
          check_tensor(i, k, true, list.get(k), known && k < want->tensors.size() ? &want->tensors[k] : nullptr);
      }
    }
  }
};

}  // namespace

void check_kernel_results(const KernelCall& call, const torch::jit::Stack& stack, const CheckVerdict* verdict) {
  Checker{call, verdict}.run(stack);
}

void raise_bad_result(const KernelCall& call, const std::string& what) {
  std::string pattern = "^" + call.op_name + "$";
  for (size_t p = pattern.find('.'); p != std::string::npos; p = pattern.find('.', p + 2)) pattern.insert(p, "\\");
  TORCH_CHECK(false, "deeplink backend '", call.backend, "': its kernel for aten::", call.op_name, " ", what,
              " (arguments: ", describe_arguments(call.op.schema(), call.args, 0),
              "). This is a bug in the backend's kernel: report it to the backend's vendor. Meanwhile "
              "DEEPLINK_FORCE_FALLBACK='", pattern, "' runs this op on the CPU instead.");
}

}  // namespace deeplink

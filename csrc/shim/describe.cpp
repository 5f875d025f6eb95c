#include "describe.h"

#include <sstream>

namespace deeplink {

std::string describe_arguments(const c10::FunctionSchema& schema, const torch::jit::Stack& stack, size_t start) {
  std::ostringstream os;
  const auto& args = schema.arguments();
  bool first = true;
  auto put = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined()) return;
    os << (first ? "" : ", ") << name << ": " << c10::toString(t.scalar_type()) << t.sizes() << " on " << t.device();
    first = false;
  };
  for (size_t i = 0; i < args.size() && start + i < stack.size(); ++i) {
    const c10::IValue& v = stack[start + i];
    if (v.isTensor()) {
      put(args[i].name(), v.toTensor());
    } else if (v.isTensorList()) {
      auto list = v.toTensorList();
      os << (first ? "" : ", ") << args[i].name() << ": " << list.size() << " tensors";
      first = false;
      if (list.size() > 0) os << " (first " << c10::toString(list.get(0).scalar_type()) << list.get(0).sizes() << ")";
    }
  }
  return first ? std::string("no tensor arguments") : os.str();
}

}  // namespace deeplink

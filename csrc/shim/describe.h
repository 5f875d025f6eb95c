// Arguments of a call as text for error messages: "self: Float[4] on deeplink:0, other: ...".
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/stack.h>

#include <string>

namespace deeplink {

std::string describe_arguments(const c10::FunctionSchema& schema, const torch::jit::Stack& stack, size_t start);

}  // namespace deeplink

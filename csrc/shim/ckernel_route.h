// C kernels (deeplink.ckernel.CKernel, csrc/include/deeplink/kernel.h) called from the router in
// C++: outputs allocated, DLTensors described and the C function called without a Python frame
// or the GIL. What this path does not describe (an outputs callable, more register arguments than
// the platform passes in registers, an unknown dtype, a None scalar) stays on the Python path of
// the same kernel, which computes the same thing more slowly.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>

namespace deeplink {

struct CKernelSpec;

// Reads the spec that deeplink.ckernel._CCall.native_spec() returns; nullptr when this platform
// cannot call the kernel directly (the route then stays Python).
std::shared_ptr<const CKernelSpec> parse_ckernel_spec(pybind11::handle spec);

enum class CCall : uint8_t {
  Done,      // results are on the stack
  Declined,  // the route's dtype check declined: the router falls back
  Python,    // run the kernel's Python path instead (stack untouched): a call this path cannot
             // describe, or a C status other than DL_OK, which the Python path then meets again
             // and reports (a decline writes nothing, by the ABI; a failure raises CKernelError)
};

CCall run_ckernel(const CKernelSpec& spec, const c10::OperatorHandle& op, torch::jit::Stack* stack);

// Whether this build calls C kernels directly (register-argument calling convention known).
bool ckernel_route_supported();

}  // namespace deeplink

// What a backend's Python or C kernel returns is checked before anything else sees it, because a
// wrong result would otherwise surface far from its cause (a CPU tensor in a device program, a
// shape that breaks the next op, an in-place write that never happened). Each bad return is a
// RuntimeError naming the backend, the op, the arguments and what to do:
//
//  * count and type: as many values as the schema returns, each of the declared type;
//  * None where a tensor is due (where the meta run returned one);
//  * device: a tensor result lives on the deeplink device of the call;
//  * aliasing: an in-place or out= op returns the very argument it wrote; a functional op never
//    returns one of its inputs or a view of one (a caller writing to the result would change it);
//  * dtype and shape: those of the meta run of the same call (arg_checks.h, cached with its
//    verdict). When they disagree, ATen's CPU kernel, run on a mirror of the arguments, settles
//    it (a meta kernel may be wrong); ops whose output shape depends on the data (nonzero,
//    masked_select, unique: ATen's dynamic_output_shape tag) have no shape check.
//
// Decompositions (torch._decomp, ATen's own code) are not checked here.
#pragma once

#include "check_cache.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

namespace deeplink {

struct KernelCall {
  const c10::OperatorHandle& op;
  const std::string& backend;     // its name
  const std::string& op_name;     // add.Tensor
  const torch::jit::Stack& args;  // the call's arguments (copies taken before the kernel ran)
  int device;                     // the deeplink device index of the call (-1: none known)
  bool lends_rng;
};

// The results at the top of `stack`, against the schema and the meta run's `verdict` (may be null:
// then only what the schema alone says is checked).
void check_kernel_results(const KernelCall& call, const torch::jit::Stack& stack, const CheckVerdict* verdict);

// Raises the RuntimeError of a bad return: "<backend>'s kernel for aten::<op> <what> ...".
[[noreturn]] void raise_bad_result(const KernelCall& call, const std::string& what);

}  // namespace deeplink

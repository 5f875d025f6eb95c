// Argument checks for kernels that are not ATen's (a backend's Python or C kernels, and
// torch._decomp decompositions): before such a kernel runs, deeplink raises what ATen would raise
// for the same call, so a bad call fails the same way on every backend instead of running.
//
//  * memory overlap: when an argument the op writes overlaps itself (an expanded tensor) or
//    overlaps another argument, the op is tried once on a CPU mirror of the arguments
//    (host_mirror.h) and whatever ATen's CPU kernel raises is raised. Calls without such overlap
//    (nearly all) cost a few pointer comparisons.
//  * everything ATen checks from shapes, dtypes and argument values: the op is first run on meta
//    tensors (no data, no kernel); when its meta kernel objects, the CPU kernel is asked on a
//    mirror, and its exception is raised. Ops without a usable meta kernel are not checked this
//    way. Off with deeplink.set_argument_checks(False) (DEEPLINK_ARGUMENT_CHECKS=0). Verdicts
//    are remembered per call signature (check_cache.h), so a repeated call costs a lookup.
#pragma once

#include "check_cache.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <atomic>
#include <optional>
#include <vector>

namespace deeplink {

// `writes[i]`: schema argument i is written (Tensor(a!)). `lends_rng`: a random op without a
// Generator argument (its CPU kernel draws from the default CPU generator, restored afterwards).
void check_overlap_like_aten(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start,
                             const std::vector<bool>& writes, bool lends_rng);

// Raises what ATen raises for these arguments when the op's meta kernel objects to them (the
// exception of ATen's CPU kernel, run on a mirror, when it can run the call). A call the meta
// kernel cannot judge (it needs data) passes; an op without a meta kernel sets `no_meta`, and
// later calls skip the attempt. Returns the verdict (with the meta outputs when the meta kernel
// accepted), or nullptr when there is none (no meta kernel; the CPU kernel decided).
VerdictPtr check_on_meta(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start,
                         bool lends_rng, std::atomic<bool>& no_meta);

// The outputs ATen's CPU kernel gives for these arguments (run on a CPU mirror), to settle a
// disagreement between a meta kernel and a backend kernel; nullopt when the CPU cannot run the
// call or raises.
std::optional<OutputMeta> cpu_output_meta(const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                                          size_t start, bool lends_rng);

}  // namespace deeplink

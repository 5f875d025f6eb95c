// Verdicts of the meta argument check (arg_checks.h), remembered per call signature, so that a call
// like one already checked skips the meta-tensor run (about 0.1 ms) and costs one hash lookup.
//
// A signature holds everything the meta run sees, and nothing else: the op, the default dtype and
// the deterministic-algorithms flag, and per argument its value (scalars, lists, strings, devices),
// or for a deeplink tensor its dtype, sizes, strides, storage offset, conj/neg bits, the size of
// its storage and which other arguments share that storage (the meta twins share a storage
// exactly then, so ATen's overlap checks see the same thing). A CPU tensor argument is in the key
// by value when it is a 0-dim scalar (`x + 1`); any argument this key cannot hold (a larger CPU
// tensor, which a meta kernel may read, a symbolic int, an object) makes the call uncached.
// requires_grad is not in the key: the meta run happens below autograd.
//
// Only verdicts that are a function of the signature are kept: "the meta kernel accepts" (with
// the metadata of its outputs, for the result checks of result_checks.h) and "the meta kernel
// cannot judge this call" (it needs data). A meta objection is never cached: it sends the call to
// ATen's CPU kernel on the data, whose answer depends on the values.
//
// A verdict depends on ATen's meta kernel and the signature only, not on the active backend or on
// deeplink's policies, so route changes (deeplink.use(), set_fallback_mode(), ...) keep the cache;
// turning the checks off skips it with the meta run. The cache holds at most kMaxVerdicts entries
// and is emptied when full. Entries are immutable once published (shared_ptr to const); lookups
// take a shared lock, so threads never see an entry change.
// DEEPLINK_CHECK_CACHE=0 (read by deeplink/dispatcher.py) turns it off.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/SmallVector.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace deeplink {

// One tensor the meta kernel returned (or ATen's CPU kernel, when asked to confirm).
struct TensorMeta {
  bool defined = false;
  bool on_host = false;  // returned on the CPU by the reference (a host-side result such as a seed)
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  c10::SmallVector<int64_t, 5> sizes;
};

// One return of the op: a tensor, a list of tensors, or something else (not compared).
struct ReturnMeta {
  enum class Kind : uint8_t { Tensor, TensorList, Other } kind = Kind::Other;
  std::vector<TensorMeta> tensors;  // Tensor: exactly one
};
using OutputMeta = std::vector<ReturnMeta>;

// The returns at the top of a stack (after a boxed call), as metadata.
OutputMeta output_meta(const c10::FunctionSchema& schema, const torch::jit::Stack& stack);

struct CheckVerdict {
  bool judged = false;  // the meta kernel accepted the call and `outputs` are its results
  OutputMeta outputs;
};
using VerdictPtr = std::shared_ptr<const CheckVerdict>;

using CallKey = c10::SmallVector<int64_t, 40>;

// The signature of a call (its arguments are stack[start, start + n)); false when it has an
// argument the key cannot represent (the call is then checked without the cache).
bool call_signature(const c10::OperatorHandle& op, const torch::jit::Stack& stack, size_t start, size_t n,
                    CallKey& key);

VerdictPtr cached_verdict(const CallKey& key);
void remember_verdict(const CallKey& key, VerdictPtr verdict);
void clear_verdicts();
bool verdict_cache_enabled();
void set_verdict_cache_enabled(bool enabled);  // off also empties it
size_t verdict_cache_size();

constexpr size_t kMaxVerdicts = 4096;

}  // namespace deeplink

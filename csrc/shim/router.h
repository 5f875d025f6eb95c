// Operator routing for the deeplink device: every aten op that reaches PrivateUse1 without a
// kernel of its own lands in one boxed fallback, which looks up (and caches) what the active
// backend does with it:
//
//   passthrough  ATen's kernel for the backend's ATen device, on zero-copy aliases   (native)
//   python       a backend kernel written in Python / C over DLPack                   (native)
//   ckernel      a C kernel over DLPack called from C++, no Python (ckernel_route.h)  (native)
//   decomposed   a torch._decomp decomposition into ops the backend has               (decomposed)
//   fallback     copy to the CPU, run ATen CPU, copy back; warns once per op          (fallback)
//   missing      raise NotImplementedError naming op, dtypes, shapes and backend
//   composite    an op claimed for another backend: its composite kernel, as if unclaimed
//
// Decisions are made in Python (deeplink/dispatcher.py) on first use and cached here per op;
// every call is counted per op and path.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace deeplink {

struct OpCounters {
  std::string name;
  std::atomic<uint64_t> native{0}, decomposed{0}, fallback{0};
  // Bit i set: a fallback call had a first tensor argument of ScalarType i (reports can then tell
  // "complex mm falls back" from "float32 mm falls back").
  std::atomic<uint64_t> fallback_dtypes{0};
};

// Stable per-name counters (never freed), for the router and for the kernels registered in C++.
OpCounters* counters_for(const std::string& op_name);
std::vector<OpCounters*> all_counters();
void reset_counters();

// Python: resolve(op_name) -> (kind, payload, fallback policy, backend slot, argument checks).
void set_route_resolver(void* py_callable);
// The backend or a policy changed: every op resolves a new route on its next call.
void invalidate_routes();
// Register the router for these ops too (see router.cpp); claims accumulate.
void claim_ops(const std::vector<std::string>& op_names);

}  // namespace deeplink

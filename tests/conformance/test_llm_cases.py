"""The LLM-tier generators: every case passes on the cpu backend (whose attention kernels are its
own math), a wrong kernel fails, and plain ATen CPU has no CUDA attention (not_implemented)."""
import collections
import warnings


from deeplink.conformance import execute, targets
from deeplink.conformance.cases import build_cases
from deeplink.conformance.llm_cases import ATTENTION_OPS, FOREACH_OPS


def _run(target, dtypes=("float32", "bfloat16", "float16"), ops=None):
    cases = build_cases({}, list(dtypes), ops=ops)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.id: execute.run_case(c.payload, target) for c in cases}


def test_generated_cases_cover_the_llm_ops_not_in_the_golden_data():
    from deeplink.opset import load_opset

    llm = set(load_opset().tiers["llm"])
    for op in ("_scaled_dot_product_cudnn_attention", "_scaled_dot_product_cudnn_attention_backward",
               "_foreach_add_.Scalar", "_foreach_addcdiv_.ScalarList", "_foreach_sqrt"):
        assert op in llm and (op in ATTENTION_OPS or op in FOREACH_OPS)


def test_all_pass_on_the_cpu_backend():
    results = _run(targets.make_target("cpu", []))
    counts = collections.Counter(r["status"] for r in results.values())
    assert counts == {"pass": len(results)}, [r for r in results.values() if r["status"] != "pass"][:2]
    assert all(r["reference"] == "aten-cpu-float64" for r in results.values())


def test_a_wrong_foreach_kernel_fails():
    def noisy(self, scalar):
        for t in self:
            t.add_(scalar * 1.01)
    target = targets.ReferenceTarget({"_foreach_add_.Scalar": noisy})
    results = _run(target, ("float32",), r"^_foreach_add_\.Scalar$")
    assert results and all(r["status"] == "mismatch" for r in results.values())
    assert all(r["blame"]["ops"] == {"_foreach_add_.Scalar": "mismatch"} for r in results.values())


def test_aten_cpu_has_no_cuda_attention_kernels():
    results = _run(targets.ReferenceTarget(), ("float32",), r"^_scaled_dot_product_efficient_attention$")
    assert results and all(r["status"] == "not_implemented" for r in results.values())

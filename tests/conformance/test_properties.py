"""Nondeterministic ops are checked by properties: CUDA's own outputs must satisfy them, and
outputs that break the op's contract must not."""
import pytest
import torch

from deeplink.conformance import golden, properties
from deeplink.conformance.cases import build_cases


@pytest.fixture(scope="module", params=["float32", "bfloat16", "float16"])
def nondeterministic_cases(request):
    files = golden.shipped()
    goldens = {(f.kind, f.dtype): golden.load(f) for f in files if f.kind == "forward" and f.dtype == request.param}
    cases = build_cases(goldens, [request.param], include_llm=False, include_gradients=False)
    return [c for c in cases if c.preset is None and c.payload.get("nondeterministic")]  # variants carry no flag


def test_cuda_outputs_satisfy_the_properties(nondeterministic_cases):
    """Also for bfloat16/float16, whose H100 outputs round: the checks' tolerances must allow that."""
    assert len(nondeterministic_cases) > 200
    for case in nondeterministic_cases:
        s = case.payload["sample"]
        problems = properties.check(case.payload["name"], case.aten, s["out"], s["out"], s["input"],
                                    s["args"], s["kwargs"])
        assert not problems, f"{case.id}: CUDA's own output fails {problems}"


def test_broken_outputs_are_caught():
    x = torch.rand(1000)
    assert properties.check_uniform(x * 3, x, (0.0, 1.0), {})             # outside [0, 1]
    assert properties.check_bernoulli(torch.full((5,), 0.5), x, (), {})
    p = 0.5
    inp = torch.ones(100)
    assert properties.check_dropout(inp * 3, inp, (), {"p": p, "training": True})   # not 0 or 2
    assert not properties.check_dropout(torch.where(torch.rand(100) < p, 0.0, 2.0), inp, (),
                                        {"p": p, "training": True})
    assert properties.check_multinomial(torch.tensor([0, 0]), torch.ones(3), (2,), {})   # repeat w/o replacement
    a, b = torch.randn(5, 3), torch.randn(5, 2)
    good = torch.linalg.lstsq(a, b).solution
    assert not properties.check_lstsq((good,), a, (b,), {})
    assert properties.check_lstsq((good + 1,), a, (b,), {})
    assert properties.check("uniform", ["uniform_"], torch.zeros(3), torch.zeros(4), x, (0, 1), {})  # shape

"""Which golden samples cannot be compared value for value, because CUDA drew random numbers.

The golden data flags whole OpInfos as nondeterministic, but misses samples whose randomness
hides inside (SDPA with dropout_p > 0, `randn_like`, the randomised `svd_lowrank`). A sample is
also treated as nondeterministic when the aten ops it reached on CUDA include a random op.
"""
from __future__ import annotations

# aten packet names (overload stripped) that draw random numbers.
RANDOM_OPS = frozenset({
    "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm",
    "normal", "normal_", "uniform_", "bernoulli", "bernoulli_", "multinomial", "exponential_",
    "geometric_", "log_normal_", "cauchy_", "random_", "native_dropout", "rrelu_with_noise",
    "rrelu_with_noise_", "_fused_dropout", "_standard_gamma", "_sample_dirichlet", "poisson",
    "binomial", "native_dropout_backward", "rrelu_with_noise_backward",
})


def touches_random(aten: list[str]) -> bool:
    return any(name.split(".", 1)[0] in RANDOM_OPS for name in aten)


def draws_dropout(sample: dict) -> bool:
    """Fused attention kernels draw their dropout mask inside the kernel (no random aten op is
    seen), so a positive `dropout_p` argument marks the sample too."""
    p = sample.get("kwargs", {}).get("dropout_p", 0.0)
    return isinstance(p, (int, float)) and p > 0

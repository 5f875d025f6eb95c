"""A coarse category per aten overload, for the "coverage by category" plot.

Derived from the overload's tags (native_functions.yaml, via deeplink.opset) and its name; the
first rule that matches wins, so e.g. `_scaled_dot_product_efficient_attention` is "attention"
rather than "other", and `linalg_vector_norm` is "linear algebra" rather than "normalization".
"""
from __future__ import annotations

LINALG = {"mm", "bmm", "addmm", "addbmm", "baddbmm", "addmv", "addr", "mv", "dot", "vdot", "matmul",
          "cholesky", "cholesky_solve", "cholesky_inverse", "triangular_solve", "geqrf", "ormqr",
          "orgqr", "_addmm_activation", "inverse", "det", "logdet", "slogdet", "kron", "ger",
          "tensordot", "trace", "tril", "triu"}

RULES = [
    ("attention", lambda n, tags: "attention" in n),
    ("optimizer (foreach/fused)", lambda n, tags: n.startswith(("_foreach_", "_fused_"))),
    ("linear algebra", lambda n, tags: n.startswith(("linalg_", "_linalg_", "lu", "_lu")) or n in LINALG),
    ("fft", lambda n, tags: n.startswith(("_fft", "fft_"))),
    ("convolution / pooling", lambda n, tags: "conv" in n or "pool" in n),
    ("normalization", lambda n, tags: "norm" in n),
    ("loss", lambda n, tags: "loss" in n),
    ("embedding / indexing", lambda n, tags: n.startswith(("embedding", "index", "gather", "scatter",
                                                          "take", "masked", "put", "_embedding"))),
    ("random", lambda n, tags: "nondeterministic_seeded" in tags),
    ("reduction", lambda n, tags: "reduction" in tags),
    ("pointwise", lambda n, tags: "pointwise" in tags),
    ("shape / view / copy", lambda n, tags: "view_copy" in tags or n.startswith((
        "view", "_unsafe_view", "reshape", "expand", "permute", "transpose", "t", "squeeze",
        "unsqueeze", "slice", "select", "split", "cat", "stack", "as_strided", "alias", "detach",
        "clone", "_to_copy", "copy", "narrow", "flip", "roll", "repeat", "constant_pad", "pad",
        "unfold", "diagonal", "lift", "_reshape"))),
    ("creation", lambda n, tags: n.startswith(("empty", "zeros", "ones", "full", "arange", "linspace",
                                               "logspace", "eye", "scalar_tensor", "new_", "_empty"))),
]


def category_of(name: str, tags=()) -> str:
    base = name.split(".", 1)[0]
    for label, rule in RULES:
        if rule(base, tuple(tags)):
            return label
    return "other"

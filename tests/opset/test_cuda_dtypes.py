from deeplink.opset.cuda_dtypes import cuda_dtypes_by_packet

F = ["bfloat16", "float16", "float32", "float64"]
OPINFOS = [
    {"name": "add", "variant": "", "aten_name": "add", "dtypes": F + ["int64"], "backward_dtypes": F},
    {"name": "max", "variant": "binary", "aten_name": "max", "dtypes": ["float32"], "backward_dtypes": []},
    {"name": "max", "variant": "reduction_no_dim", "aten_name": "max", "dtypes": ["int8"], "backward_dtypes": []},
    {"name": "nn.functional.silu", "variant": "", "aten_name": "nn.functional.silu", "dtypes": F,
     "backward_dtypes": ["float32"]},
    {"name": "log_softmax", "variant": "", "aten_name": "log_softmax", "dtypes": F, "backward_dtypes": F},
    {"name": "log_softmax", "variant": "with_dtype", "aten_name": "log_softmax", "dtypes": F + ["int64"],
     "backward_dtypes": F + ["int64"]},
    {"name": "linalg.svd", "variant": "", "aten_name": "linalg_svd", "dtypes": ["float64"], "backward_dtypes": []},
    {"name": "special.erfcx", "variant": "", "aten_name": "special.erfcx", "dtypes": ["float32"],
     "backward_dtypes": []},
]
PACKETS = {"add", "add_", "max", "silu", "silu_backward", "log_softmax", "_log_softmax",
           "_log_softmax_backward_data", "linalg_svd", "special_erfcx", "_scaled_dot_product_efficient_attention"}


def test_rules():
    got = cuda_dtypes_by_packet(OPINFOS, PACKETS)
    assert got["add"].dtypes == tuple(sorted(F + ["int64"])) and got["add"].source == "opinfo:add"
    assert got["add_"].source == "opinfo:add (out-of-place op)"
    assert got["max"].dtypes == ("float32", "int8")                       # variants are united
    assert got["max"].source == "opinfo:max[binary]+max[reduction_no_dim]"
    assert got["silu"].source == "opinfo:nn.functional.silu"
    assert got["silu_backward"].dtypes == ("float32",)                    # the backward dtypes
    assert got["silu_backward"].source.startswith("opinfo-backward:")
    assert "int64" not in got["_log_softmax"].dtypes                      # casting variant skipped
    assert got["_log_softmax"].source == "opinfo:log_softmax (public op)"
    assert "int64" not in got["_log_softmax_backward_data"].dtypes
    assert got["linalg_svd"].dtypes == ("float64",)
    assert got["special_erfcx"].dtypes == ("float32",)
    assert "_scaled_dot_product_efficient_attention" not in got          # no OpInfo: unknown


def test_real_dtypes(opset):
    mm = opset["mm"]
    assert {"bfloat16", "float16", "float32"} <= set(mm.cuda_dtypes)
    assert mm.cuda_dtypes_source == "opinfo:mm"
    sdpa = opset["_scaled_dot_product_efficient_attention"]
    assert sdpa.cuda_dtypes is None and sdpa.cuda_dtypes_source == "unknown"
    assert sdpa.to_dict()["cuda_dtypes"] == "unknown"
    known = [e for e in opset.tier("llm") if e.cuda_dtypes is not None]
    assert len(known) >= 40, "OpInfo should cover most LLM ops; did the OpInfo import fail? " + str(opset.notes)

from deeplink.opset import names


def test_traced_names_become_overload_names():
    assert names.from_traced("aten.mm.default") == "mm"
    assert names.from_traced("aten.add.Tensor") == "add.Tensor"
    assert names.from_traced("aten._foreach_add_.Scalar") == "_foreach_add_.Scalar"
    assert names.from_traced("profiler._record_function_enter_new.default") is None
    # A golden sample's `aten` list: non-aten names dropped, each name once, first-seen order.
    assert names.from_traced_all(["aten.mm.default", "prims.add.default", "aten.add.Tensor",
                                  "aten.mm.default"]) == ["mm", "add.Tensor"]


def test_registration_and_split():
    assert names.from_registration("aten::sum.dim_IntList") == "sum.dim_IntList"
    assert names.split_name("sum.dim_IntList") == ("sum", "dim_IntList")
    assert names.split_name("mm") == ("mm", "")
    assert names.overload_name("mm", "default") == "mm"


def test_from_op_object():
    import torch
    assert names.from_op(torch.ops.aten.add.Tensor) == "add.Tensor"
    assert names.from_op(torch.ops.aten.mm.default) == "mm"

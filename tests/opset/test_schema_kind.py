import pytest

from deeplink.opset.native_yaml import read_native_functions
from deeplink.opset.schema_kind import schema_kind, split_top_level


@pytest.mark.parametrize("schema, kind", [
    ("add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", "functional"),
    ("add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)", "inplace"),
    ("add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out) -> Tensor(a!)", "out"),
    ("__iand__.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)", "inplace"),
    ("__and__.Tensor(Tensor self, Tensor other) -> Tensor", "functional"),
    ("view(Tensor(a) self, SymInt[] size) -> Tensor(a)", "functional"),
    ("split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]", "functional"),
    ("_foreach_add_.Scalar(Tensor(a!)[] self, Scalar scalar) -> ()", "inplace"),
])
def test_examples(schema, kind):
    assert schema_kind(schema) == kind


def test_split_respects_brackets_and_quotes():
    assert split_top_level("int[2] a=[0, 0], str b='x,y', Tensor(a -> *) c") == \
        ["int[2] a=[0, 0]", "str b='x,y'", "Tensor(a -> *) c"]


def test_agrees_with_torchgen_on_every_schema_of_the_yaml():
    model = pytest.importorskip("torchgen.model")
    mismatches = []
    functions = [f for f in read_native_functions() if f.schema]
    for fn in functions:
        expected = model.FunctionSchema.parse(fn.schema).kind().name
        if schema_kind(fn.schema) != expected:
            mismatches.append((fn.name, schema_kind(fn.schema), expected))
    assert len(functions) > 2000
    assert mismatches == []

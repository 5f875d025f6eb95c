import importlib.util
import textwrap

import pytest

from deeplink.opset import native_yaml
from deeplink.opset.native_yaml import (NativeYamlNotFound, find_native_functions_yaml,
                                        read_native_functions, resolve_kernel_keys)

SYNTHETIC = """
- func: foo.Tensor(Tensor self, Tensor other) -> Tensor
  structured_delegate: foo.out
  dispatch:
    SparseCUDA: foo_sparse
  tags: [core, pointwise]

- func: foo.out(Tensor self, Tensor other, *, Tensor(a!) out) -> Tensor(a!)
  structured: True
  ufunc_inner_loop:
    Generic: foo (AllAndComplex)
  dispatch:
    MPS: foo_out_mps

- func: bar(Tensor self) -> Tensor
  structured_delegate: bar.out
  tags: core

- func: bar.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!)
  structured: True
  dispatch:
    CPU, CUDA: bar_out

- func: baz(Tensor self) -> Tensor

- func: qux_(Tensor(a!) self) -> Tensor(a!)
  dispatch:
    CompositeExplicitAutograd: qux_
    CUDA: qux_cuda_
  autogen: qux, qux.out

- func: quux_(Tensor(a!) self) -> Tensor(a!)
  dispatch:
    CUDA: quux_cuda_
  autogen: qux.out
"""


@pytest.fixture
def synthetic(tmp_path):
    path = tmp_path / "native_functions.yaml"
    path.write_text(textwrap.dedent(SYNTHETIC))
    functions = read_native_functions(path)
    return {f.name: f for f in functions}, resolve_kernel_keys(functions)


def test_structured_delegate_gets_the_out_variants_kernels(synthetic):
    functions, keys = synthetic
    assert functions["bar"].structured_delegate == "bar.out"
    assert "CUDA" in keys["bar"] and "CPU" in keys["bar"]
    assert functions["bar"].tags == ("core",)


def test_ufunc_inner_loop_means_cpu_and_cuda_kernels(synthetic):
    functions, keys = synthetic
    assert {"CPU", "CUDA", "MPS"} <= keys["foo.out"]
    # delegate keys plus the entry's own (sparse) keys
    assert {"CPU", "CUDA", "MPS", "SparseCUDA"} == keys["foo.Tensor"]
    assert functions["foo.Tensor"].tags == ("core", "pointwise")


def test_no_dispatch_means_composite_implicit(synthetic):
    _, keys = synthetic
    assert keys["baz"] == {"CompositeImplicitAutograd"}


def test_autogen_overloads_are_added_once(synthetic, tmp_path):
    functions, keys = synthetic
    names = [f.name for f in read_native_functions(tmp_path / "native_functions.yaml")]
    assert names.count("qux.out") == 1          # autogen'd by both qux_ and quux_
    assert functions["qux"].autogen and functions["qux.out"].autogen
    assert keys["qux.out"] == {"CompositeExplicitAutograd"}
    assert "CUDA" in keys["qux_"]


def test_delegate_cycle_is_an_error_naming_the_ops(tmp_path):
    path = tmp_path / "native_functions.yaml"
    path.write_text("- func: a(Tensor self) -> Tensor\n  structured_delegate: b\n"
                    "- func: b(Tensor self) -> Tensor\n  structured_delegate: a\n")
    with pytest.raises(ValueError, match="a -> b -> a"):
        resolve_kernel_keys(read_native_functions(path))


def test_real_yaml_add_tensor_is_structured_via_add_out_with_a_cuda_kernel():
    functions = read_native_functions()
    by_name = {f.name: f for f in functions}
    keys = resolve_kernel_keys(functions)
    assert by_name["add.Tensor"].structured_delegate == "add.out"
    assert "CUDA" not in by_name["add.Tensor"].own_keys      # it is only reachable through add.out
    assert "CUDA" in keys["add.out"] and "CUDA" in keys["add.Tensor"]
    assert len(by_name) > 2500


def test_yaml_is_found_inside_the_torch_wheel():
    path = find_native_functions_yaml()
    assert path.name == "native_functions.yaml"
    assert path.parts[-4:-1] == ("packaged", "ATen", "native")


def test_missing_torchgen_gives_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(native_yaml.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torchgen" else real(name, *a))
    with pytest.raises(NativeYamlNotFound, match="torchgen.*torch wheel"):
        find_native_functions_yaml()


def test_stripped_wheel_gives_a_clear_error(monkeypatch, tmp_path):
    class Spec:
        submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(native_yaml.importlib.util, "find_spec", lambda name, *a: Spec())
    with pytest.raises(NativeYamlNotFound, match="native_functions.yaml is missing"):
        find_native_functions_yaml()

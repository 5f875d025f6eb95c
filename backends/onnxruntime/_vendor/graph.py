"""A small ONNX graph builder that tracks the element type of every value.

Kernels describe their computation as a handful of ONNX nodes; this module turns that into a
serialized ModelProto. Inputs have a fixed rank and symbolic (unknown) dimensions, so one graph
serves every shape of that rank: shapes never enter the session cache key, ranks do.
"""
from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

#: ONNX opset and IR version of every graph we build. Opset 20 brings Gelu; onnxruntime >= 1.17
#: implements it, so the GPU wheels found on older machines still load these graphs.
OPSET = 20
IR_VERSION = 9

ONNX_TYPE = {
    torch.float32: TensorProto.FLOAT,
    torch.float16: TensorProto.FLOAT16,
    torch.bfloat16: TensorProto.BFLOAT16,
    torch.float64: TensorProto.DOUBLE,
    torch.int64: TensorProto.INT64,
    torch.int32: TensorProto.INT32,
    torch.int16: TensorProto.INT16,
    torch.int8: TensorProto.INT8,
    torch.uint8: TensorProto.UINT8,
    torch.bool: TensorProto.BOOL,
}
TORCH_TYPE = {v: k for k, v in ONNX_TYPE.items()}

NUMPY_TYPE = {
    torch.float32: np.float32, torch.float16: np.float16, torch.float64: np.float64,
    torch.int64: np.int64, torch.int32: np.int32, torch.int16: np.int16, torch.int8: np.int8,
    torch.uint8: np.uint8, torch.bool: np.bool_,
}

# ONNX ops whose output element type is fixed, whatever their inputs are.
_FIXED_OUTPUT_TYPE = {
    "Equal": torch.bool, "Less": torch.bool, "Greater": torch.bool, "LessOrEqual": torch.bool,
    "GreaterOrEqual": torch.bool, "Not": torch.bool, "And": torch.bool, "Or": torch.bool,
    "Xor": torch.bool, "IsNaN": torch.bool, "IsInf": torch.bool,
    "Shape": torch.int64, "Size": torch.int64, "ArgMax": torch.int64, "ArgMin": torch.int64,
    "NonZero": torch.int64,
}
# ONNX ops whose output type is that of their second input (Where: the "then" branch).
_TYPE_FROM_SECOND = {"Where"}


class Graph:
    """Collects inputs, nodes, constants and outputs; `model_bytes()` serializes them."""

    def __init__(self, name: str):
        self.name = name
        self.inputs: list = []
        self.outputs: list = []
        self.nodes: list = []
        self.initializers: list = []
        self.dtypes: dict[str, torch.dtype] = {}
        self.ranks: dict[str, int | None] = {}
        self._count = 0

    # -- values -------------------------------------------------------------------------------
    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def input(self, dtype: torch.dtype, rank: int, hint: str = "in") -> str:
        name = self._fresh(hint)
        self.inputs.append(helper.make_tensor_value_info(name, ONNX_TYPE[dtype], [None] * rank))
        self.dtypes[name] = dtype
        self.ranks[name] = rank
        return name

    def const(self, value, dtype: torch.dtype) -> str:
        """A constant tensor (scalar or list), stored as an initializer."""
        name = self._fresh("c")
        arr = np.asarray(value)
        if dtype == torch.bfloat16:
            t = torch.tensor(arr.tolist(), dtype=torch.bfloat16)
            proto = helper.make_tensor(name, TensorProto.BFLOAT16, list(arr.shape),
                                       t.view(torch.int16).numpy().tobytes(), raw=True)
        else:
            proto = numpy_helper.from_array(arr.astype(NUMPY_TYPE[dtype]), name)
        self.initializers.append(proto)
        self.dtypes[name] = dtype
        self.ranks[name] = arr.ndim
        return name

    def ints(self, values) -> str:
        """A 1-D int64 constant (axes, shapes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64), torch.int64)

    def fill(self, shape: str, value, dtype: torch.dtype) -> str:
        """A tensor of runtime shape `shape` (1-D int64 value) filled with a constant."""
        if dtype == torch.bfloat16:
            bits = torch.tensor([float(value)], dtype=torch.bfloat16).view(torch.int16)
            proto = helper.make_tensor("value", TensorProto.BFLOAT16, [1],
                                       bits.numpy().tobytes(), raw=True)
        else:
            proto = numpy_helper.from_array(np.asarray([value], dtype=NUMPY_TYPE[dtype]), "value")
        return self.op("ConstantOfShape", shape, dtype=dtype, value=proto)

    def dtype(self, value: str) -> torch.dtype:
        return self.dtypes[value]

    def rank(self, value: str) -> int | None:
        return self.ranks.get(value)

    # -- nodes ----------------------------------------------------------------------------------
    def op(self, op_type: str, *inputs: str, outputs: int = 1, dtype: torch.dtype | None = None,
           rank: int | None = None, **attrs):
        """Append one node; returns its output name (or a tuple of names when outputs > 1).
        `dtype` overrides the output type inference (first input's type, or a fixed type)."""
        names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        if dtype is None:
            if op_type in _FIXED_OUTPUT_TYPE:
                dtype = _FIXED_OUTPUT_TYPE[op_type]
            elif op_type == "Cast":
                dtype = TORCH_TYPE[attrs["to"]]
            elif op_type in _TYPE_FROM_SECOND and len(inputs) > 1:
                dtype = self.dtypes.get(inputs[1])
            else:
                dtype = next((self.dtypes[i] for i in inputs if i), None)
        for i, n in enumerate(names):
            # the second output of TopK / max-with-indices style nodes is int64
            self.dtypes[n] = dtype if i == 0 or op_type not in ("TopK",) else torch.int64
            self.ranks[n] = rank
        return names[0] if outputs == 1 else tuple(names)

    def cast(self, value: str, dtype: torch.dtype) -> str:
        if self.dtypes.get(value) == dtype:
            return value
        return self.op("Cast", value, to=ONNX_TYPE[dtype])

    def output(self, value: str, dtype: torch.dtype) -> None:
        """Declare `value` as the next graph output, cast to `dtype` when it differs."""
        value = self.cast(value, dtype)
        if any(o.name == value for o in self.outputs) or value in {i.name for i in self.inputs}:
            value = self.op("Identity", value)    # a graph output must be produced by a node
        self.outputs.append(helper.make_tensor_value_info(value, ONNX_TYPE[dtype], None))

    # -- serialization --------------------------------------------------------------------------
    def model(self) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                              initializer=self.initializers)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="deeplink-onnxruntime")
        m.ir_version = IR_VERSION
        return m

    def model_bytes(self) -> bytes:
        return self.model().SerializeToString()

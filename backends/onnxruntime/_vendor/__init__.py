"""The onnxruntime glue: ONNX graph building, session cache, IO binding, execution providers."""

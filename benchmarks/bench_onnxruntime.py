"""The onnxruntime backend against ONNX Runtime itself: each small op on deeplink against the same
op as a pre-bound single-node ONNX Runtime session (IO binding on fixed numpy buffers, timed
`run_with_iobinding` from Python: ORT's own floor for one op), and the training step, eager and
compiled (torch.compile(backend="deeplink"): one ONNX graph per AOTAutograd graph), against
native CPU eager. Alternating rounds. The add row is followed by its profile (add_profile). Targets (issue 14): add <= 2x ORT's own run; training step
compiled <= 1.5x native CPU eager, eager <= 3x.

    python benchmarks/bench_onnxruntime.py [--rounds 15]     (one section of `make bench`)
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import deeplink
from timing import Row, alternating
from workloads import small_ops, training_step

ADD_TARGET, COMPILED_TARGET, EAGER_TARGET = 2.0, 1.5, 3.0


def _session(node, inputs, outputs):
    """A single-node session on the CPU EP: inputs/outputs are (name, onnx type, shape)."""
    import onnxruntime as ort
    from onnx import helper
    graph = helper.make_graph([node], "ref", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_small_ops() -> dict:
    """The small ops of workloads.small_ops as pre-bound ONNX Runtime runs (view has no node)."""
    from onnx import TensorProto, helper
    f32 = TensorProto.FLOAT
    a = np.random.rand(16, 16).astype(np.float32)
    b = np.random.rand(16, 16).astype(np.float32)
    c = np.empty((16, 16), np.float32)
    s = np.empty((), np.float32)
    one = np.ones((), np.float32)
    cases = {}

    def prebound(label, node, ins, outs):
        sess = _session(node, [(n, f32, list(x.shape)) for n, x in ins], [(n, f32, list(x.shape)) for n, x in outs])
        io = sess.io_binding()
        for n, x in ins:
            io.bind_input(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        for n, x in outs:
            io.bind_output(n, "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        buffers = (ins, outs)   # bound by address: they must live as long as the binding

        def run():
            sess.run_with_iobinding(io)
            return buffers
        cases[label] = run

    prebound("add (16x16)", helper.make_node("Add", ["a", "b"], ["c"]), [("a", a), ("b", b)], [("c", c)])
    prebound("mul_ in-place (16x16)", helper.make_node("Mul", ["a", "k"], ["c"]), [("a", a), ("k", one)],
             [("c", a)])
    prebound("mm 16x16", helper.make_node("MatMul", ["a", "b"], ["c"]), [("a", a), ("b", b)], [("c", c)])
    prebound("sum (16x16)", helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0), [("a", a)], [("s", s)])
    return cases


def add_profile(rounds: int) -> list[Row]:
    """Where the time of a deeplink add goes, each part against ORT's own pre-bound run: the
    replaying kernel called directly (no router, no autograd), the recorded plan's run (output
    allocation, rebinding, ORT's run from Python) and the output allocation alone."""
    from deeplink.backends.onnxruntime.kernels import onnxruntime_kernels
    from deeplink.backends.onnxruntime._vendor import replay
    a, b = torch.randn(16, 16, device="deeplink"), torch.randn(16, 16, device="deeplink")
    kernel = onnxruntime_kernels()["add.Tensor"].fn
    kernel(a, b)
    kernel(a, b)
    plan = next(p[s] for p in replay._all_plans for s in [replay.signature((a, b), {})]
                if isinstance(p.get(s), replay.Plan))
    cases = {"ort": ort_small_ops()["add (16x16)"], "add": lambda: a + b, "kernel": lambda: kernel(a, b),
             "alloc": lambda: torch.empty(16, 16, device="deeplink"), "plan": lambda: plan.run([a, b])}
    med = alternating(cases, rounds, 2000)
    ref = "ORT pre-bound run"
    return [Row("onnxruntime", "  add: kernel, no router", ref, med["ort"], med["kernel"], "us", None),
            Row("onnxruntime", "  add: plan run", ref, med["ort"], med["plan"], "us", None),
            Row("onnxruntime", "  add: output alloc", ref, med["ort"], med["alloc"], "us", None)]


def rows(rounds: int) -> list[Row]:
    deeplink.use("onnxruntime")
    out = []
    ref, ours, cpu = ort_small_ops(), small_ops("deeplink"), small_ops("cpu")
    for name in ours:
        native, what = (ref[name], "ORT pre-bound run") if name in ref else (cpu[name], "ATen CPU (no ORT node)")
        med = alternating({"native": native, "deeplink": ours[name]}, rounds, 2000)
        target = ADD_TARGET if name.startswith("add") else None
        out.append(Row("onnxruntime", name, what, med["native"], med["deeplink"], "us", target))
        if name.startswith("add"):
            out += add_profile(rounds)
    steps = {"cpu": training_step("cpu"), "eager": training_step("deeplink"),
             "compiled": training_step("deeplink", "deeplink")}
    med = alternating(steps, max(5, rounds // 2), 3, warmup=1)
    out.append(Row("onnxruntime", "train step, eager", "ATen CPU eager", med["cpu"] / 1e3, med["eager"] / 1e3,
                   "ms", EAGER_TARGET))
    out.append(Row("onnxruntime", "train step, compiled", "ATen CPU eager", med["cpu"] / 1e3,
                   med["compiled"] / 1e3, "ms", COMPILED_TARGET))
    return out


def main() -> None:
    from bench import print_table
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print_table(rows(args.rounds), args.rounds)


if __name__ == "__main__":
    main()

"""deeplink conformance suite: which ops of the CUDA operator set a backend runs natively and
correctly (against golden outputs recorded on an NVIDIA H100), what share of real LLM training
steps that covers, and what changed since the last run.

    deeplink conformance run --backend cpu --out report/      # report.json, report.md, report.html
    deeplink conformance diff old/report.json new/report.json # exit 1 on regressions
    deeplink conformance record --device cuda --out golden_bf16.pt.xz --dtype bfloat16
    deeplink conformance trace --model mymodel.py:make --out my_workload.json

Python API: `from deeplink.conformance.runner import RunOptions, run`. See docs/conformance.md.
"""
from .cli import add_conformance_parser, main

__all__ = ["add_conformance_parser", "main"]

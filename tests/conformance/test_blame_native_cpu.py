"""Blame when substituting every op by ATen CPU does not fix a case: the sample is run natively on
ATen CPU (no device). Failing there too is "unattributed"; passing there lands the failure on the
ops the device run called and the native run did not (conformance/execute.py). In-process, on
hand-made programs and a stand-in target (no workers)."""
import contextlib
import contextvars

import torch

from deeplink.conformance.compare import Comparison, compare_leaf
from deeplink.conformance.dispatch_modes import SubstituteMode
from deeplink.conformance.execute import attempt, diagnose
from deeplink.conformance.tolerance import for_case

_on_device = contextvars.ContextVar("on_device", default=False)


class StandInDevice:
    """A 'device' that is the CPU, except that programs know they run on it (run_context)."""
    name = "stand-in"
    device = "cpu:0"      # not "cpu": a device target
    can_substitute = True

    @contextlib.contextmanager
    def run_context(self):
        token = _on_device.set(True)
        try:
            yield
        finally:
            _on_device.reset(token)

    def reset_stats(self):
        pass

    def routes(self):
        return {}

    def substitute(self, names):
        return SubstituteMode(names, "cpu")


class Program:
    """x * 2, expected 2x. `route` says what the device does differently."""
    reference, check_kind = "test", "value"

    def __init__(self, route: str):
        self.route = route
        self.x = torch.arange(6, dtype=torch.float32)
        self.tol = for_case(torch.float32, ["mul.Tensor"])
        self.wrong = self.x * 2 + 1

    def execute(self, device):
        x = self.x.to(device)
        if _on_device.get() and self.route == "other kernel":
            return (x + x + 1).cpu()             # another way to the answer, wrong
        if self.route == "numerics everywhere":
            return (x * 2 + 1).cpu()             # wrong on the CPU too
        if _on_device.get() and self.route == "outside ops":
            (x * 2).cpu()
            return self.wrong                    # the same ops, a wrong answer from outside them
        return (x * 2).cpu()

    def check(self, out) -> Comparison:
        return compare_leaf(out, self.x * 2, self.tol, "output")


def _blame(route):
    target = StandInDevice()
    program = Program(route)
    first = attempt(program, target)
    assert first.status == "mismatch"
    return diagnose(program, target, first)


def test_the_op_that_ran_differently_is_blamed():
    blame = _blame("other kernel")
    assert blame["method"] == "ran differently" and blame["native_cpu"] == "pass"
    assert set(blame["ops"]) == {"add.Tensor"} and blame["ops"]["add.Tensor"] == "mismatch"
    assert "mul.Tensor" in blame["note"]       # what native CPU ran instead


def test_unattributed_only_when_native_cpu_fails_too():
    blame = _blame("numerics everywhere")
    assert blame["method"] == "unattributed" and blame["ops"] == {}
    assert blame["native_cpu"] == "mismatch"


def test_same_ops_but_native_passes_is_the_backends_failure():
    blame = _blame("outside ops")
    assert blame["method"] == "backend, outside any op" and blame["native_cpu"] == "pass"

"""Execution provider selection: env DEEPLINK_ORT_PROVIDERS and set_providers(); the EP that
actually ran is checked (ORT drops a missing EP silently) and reported by probe()."""
from __future__ import annotations

import pytest
import torch

from test_onnxruntime_helpers import ensure_registered, ort

from deeplink.backends.onnxruntime import OnnxRuntimeBackend, set_providers
from deeplink.backends.onnxruntime._vendor import providers
from deeplink.backends.onnxruntime._vendor.execute import run
from deeplink.backends.onnxruntime._vendor.session_cache import CACHE


def test_default_is_the_cpu_ep(monkeypatch):
    monkeypatch.delenv(providers.ENV_VAR, raising=False)
    assert providers.requested() == ("CPUExecutionProvider",)


def test_env_var_is_a_comma_list(monkeypatch):
    monkeypatch.setenv(providers.ENV_VAR, " CUDAExecutionProvider , CPUExecutionProvider ")
    assert providers.requested() == ("CUDAExecutionProvider", "CPUExecutionProvider")


def test_api_overrides_env_and_none_restores_it(monkeypatch):
    monkeypatch.setenv(providers.ENV_VAR, "CPUExecutionProvider")
    set_providers("XnnpackExecutionProvider,CPUExecutionProvider")
    try:
        assert providers.requested() == ("XnnpackExecutionProvider", "CPUExecutionProvider")
    finally:
        set_providers(None)
    assert providers.requested() == ("CPUExecutionProvider",)


def test_missing_provider_is_reported_with_the_one_actually_used():
    """Ask for an EP this onnxruntime build lacks: probe() says so, and names the EP that the
    session really got (sess.get_providers()[0]), which is what `deeplink info` prints."""
    wanted = "CUDAExecutionProvider"
    if wanted in ort.get_available_providers():
        wanted = "MIGraphXExecutionProvider"
    assert wanted not in ort.get_available_providers()
    set_providers([wanted, "CPUExecutionProvider"])
    try:
        avail = OnnxRuntimeBackend().probe()
        assert avail.available
        assert avail.details["requested_providers"] == [wanted, "CPUExecutionProvider"]
        assert avail.details["provider_used"] == "CPUExecutionProvider"
        assert wanted in avail.details["warning"]
        # every session records its real EP, and the cache counts sessions per EP
        CACHE.stats.providers_used.clear()
        out = torch.empty(3)
        run("test.provider", (), [torch.ones(3)], [out], lambda g, x: g.op("Neg", x))
        compiled = next(iter(CACHE._graphs.values()))
        assert compiled.provider == "CPUExecutionProvider"
        assert CACHE.stats.providers_used == {"CPUExecutionProvider": 1}
    finally:
        set_providers(None)


def test_probe_reports_versions_and_providers():
    rec = ensure_registered()
    d = rec.availability.details
    assert rec.available
    assert d["onnxruntime"] == ort.__version__
    assert "CPUExecutionProvider" in d["available_providers"]
    assert d["provider_used"] == "CPUExecutionProvider"


@pytest.mark.parametrize("module", ["onnxruntime", "onnx"])
def test_probe_explains_a_missing_dependency_and_names_the_extra(monkeypatch, module):
    import sys
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like to import
    avail = OnnxRuntimeBackend().probe()
    assert not avail.available
    assert repr(module) in avail.reason and "pip install 'deeplink[onnxruntime]'" in avail.reason


def test_strict_mode_refuses_to_run_on_the_cpu_ep_silently(monkeypatch):
    """DEEPLINK_ORT_STRICT=1: a graph the requested EP cannot take fails to build rather than
    running on the CPU EP behind the user's back."""
    import pytest
    missing = "MIGraphXExecutionProvider"
    assert missing not in ort.get_available_providers()
    monkeypatch.setenv("DEEPLINK_ORT_STRICT", "1")
    set_providers([missing, "CPUExecutionProvider"])
    try:
        with pytest.warns(UserWarning):       # ORT's own note that the EP is not available
            with pytest.raises(NotImplementedError, match="fallback to CPU EP has been"):
                run("test.strict", (), [torch.ones(2)], [torch.empty(2)],
                    lambda g, x: g.op("Neg", x))
    finally:
        set_providers(None)
    # with the CPU EP first, strict mode changes nothing
    set_providers(["CPUExecutionProvider"])
    try:
        out = torch.empty(2)
        run("test.strict", (), [torch.ones(2)], [out], lambda g, x: g.op("Neg", x))
        assert torch.equal(out, -torch.ones(2))
    finally:
        set_providers(None)

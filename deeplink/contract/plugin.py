"""pytest plugin of the contract suite: which backends to test, and the `backend` fixture that
makes one of them the active backend for a test (and puts the previous one back)."""
from __future__ import annotations

import importlib
import os

import pytest

BACKENDS_VARIABLE = "DEEPLINK_CONTRACT_BACKENDS"
PLUGINS_VARIABLE = "DEEPLINK_CONTRACT_PLUGINS"


def pytest_addoption(parser):
    group = parser.getgroup("deeplink contract")
    group.addoption("--deeplink-backend", action="append", default=[],
                    help=f"backend to check (repeatable; default: ${BACKENDS_VARIABLE}, else every available one)")
    group.addoption("--deeplink-plugin", action="append", default=[],
                    help=f"MODULE:FUNCTION to call before testing, e.g. to register a backend (or ${PLUGINS_VARIABLE})")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def call_plugins(specs) -> None:
    for spec in specs:
        module, _, fn = spec.partition(":")
        if not fn:
            raise pytest.UsageError(f"--deeplink-plugin {spec!r}: expected MODULE:FUNCTION")
        getattr(importlib.import_module(module), fn)()


def backends_under_test(config, module=None) -> list[str]:
    """Command-line options first, then the importing test module's CONTRACT_BACKENDS /
    CONTRACT_PLUGINS (tests/contract/ and generated plugins set them), then the environment,
    else every available backend."""
    import deeplink
    call_plugins(config.getoption("deeplink_plugin") or getattr(module, "CONTRACT_PLUGINS", None)
                 or _split(os.environ.get(PLUGINS_VARIABLE, "")))
    names = (config.getoption("deeplink_backend") or getattr(module, "CONTRACT_BACKENDS", None)
             or _split(os.environ.get(BACKENDS_VARIABLE, "")))
    if names:
        return names
    return [b["name"] for b in deeplink.list_backends() if b["available"]]


def pytest_generate_tests(metafunc):
    # Only the suite's own tests (also when another test tree imports them, as tests/contract does).
    if "backend" in metafunc.fixturenames and metafunc.function.__module__.startswith("deeplink.contract."):
        metafunc.parametrize("backend", backends_under_test(metafunc.config, metafunc.module), indirect=True,
                             scope="module")


@pytest.fixture(scope="module")
def backend(request):
    """The name of the backend under test, active for the module's tests. A backend that is not
    available fails (not skips): the user asked for it by name."""
    import deeplink
    name = request.param
    rec = deeplink._registry.get(name)
    if not rec.available:
        pytest.fail(f"backend {name!r} is not available: {rec.reason}")
    before = deeplink.current_backend()
    deeplink.use(name)
    yield name
    deeplink.use(before)


@pytest.fixture
def strict(backend):
    """DEEPLINK_FALLBACK=error for one test: any CPU fallback raises."""
    import deeplink
    before = deeplink.fallback_mode()
    deeplink.set_fallback_mode("error")
    yield
    deeplink.set_fallback_mode(before)

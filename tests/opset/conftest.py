import pytest

from deeplink.opset import load_opset


@pytest.fixture(scope="session")
def opset():
    """The operator set of the installed torch, built once for the session (no file cache: a stale
    or foreign cache file must not decide what the tests see)."""
    return load_opset(use_file_cache=False)

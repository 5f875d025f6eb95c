import pytest


@pytest.fixture(scope="session", autouse=True)
def distributed_extension():
    """Compiles the distributed extension once, here, rather than inside the first worker's
    timeout (it is cached across runs)."""
    import deeplink  # noqa: F401
    from deeplink.distributed._ext import extension
    extension()


@pytest.fixture(scope="session")
def ascend_home():
    """The emulated CANN install (built once and cached; it includes the emulated libhccl.so)."""
    from ascend_emulator.build import build
    return build()

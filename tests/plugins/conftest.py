"""Fixtures for the plugin tests: a temporary
virtualenv (on top of this project's .venv, so torch is not reinstalled) with plugins installed."""
from __future__ import annotations

import pytest

from . import plugin_env

HERE = plugin_env.HERE


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory):
    """A virtualenv with the generated plugin `genaccel` installed, plus two broken plugins."""
    root = tmp_path_factory.mktemp("plugin_venv")
    return plugin_env.PluginVenv.create(root)

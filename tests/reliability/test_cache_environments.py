"""Caches are keyed per Python environment: two virtualenvs sharing one cache folder (the default
~/.cache/deeplink, or one DEEPLINK_CACHE_DIR) never delete each other's opset cache, and a cache
path that cannot be written is skipped for the opset (it is rebuilt in memory) instead of failing."""
from __future__ import annotations

import shutil
import sys

from deeplink import cache_dirs
from deeplink.opset import cache


def test_two_environments_keep_their_opset_caches(monkeypatch, tmp_path):
    opset = cache.load_opset()
    monkeypatch.setenv("DEEPLINK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache, "build_opset", lambda: opset)
    cache.clear_memory_cache()
    try:
        monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv-a"))
        cache.load_opset()
        first = cache.cache_path()
        # The second environment has its own torch install: its own native_functions.yaml.
        monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv-b"))
        own_yaml = tmp_path / "venv-b-native_functions.yaml"
        shutil.copy(cache.find_native_functions_yaml(), own_yaml)
        monkeypatch.setattr(cache, "find_native_functions_yaml", lambda: own_yaml)
        cache.clear_memory_cache()
        cache.load_opset()
        second = cache.cache_path()
        assert first != second and first.parent != second.parent
        assert first.exists() and second.exists(), "one environment deleted the other's opset cache"
        assert first.parent.name.startswith("venv-a-") and second.parent.name.startswith("venv-b-")
    finally:
        cache.clear_memory_cache()


def test_environment_folder_is_stable_and_under_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLINK_CACHE_DIR", str(tmp_path))
    assert cache_dirs.environment_dir() == cache_dirs.environment_dir()
    assert cache_dirs.environment_dir().parent == tmp_path / "env"
    monkeypatch.delenv("DEEPLINK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dirs.cache_root() == tmp_path / "xdg" / "deeplink"

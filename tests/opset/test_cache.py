import time

import pytest

from deeplink.opset import cache


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path, opset):
    """An empty cache directory, and a builder that hands back the session's opset and counts calls."""
    monkeypatch.setenv("DEEPLINK_CACHE_DIR", str(tmp_path))
    builds = []
    monkeypatch.setattr(cache, "build_opset", lambda: builds.append(1) or opset)
    cache.clear_memory_cache()
    yield tmp_path, builds
    cache.clear_memory_cache()


def test_file_cache_round_trip(isolated_cache, opset):
    tmp_path, builds = isolated_cache
    first = cache.load_opset()
    assert builds == [1]
    files = list(cache.cache_path().parent.glob("opset-torch*.json"))
    assert len(files) == 1 and opset.torch_version in files[0].name
    cache.clear_memory_cache()
    started = time.perf_counter()
    second = cache.load_opset()
    elapsed = time.perf_counter() - started
    assert builds == [1], "second load must come from the file"
    assert second.loaded_from == str(files[0])
    assert second.to_dict() == first.to_dict()
    assert elapsed < 1.0, f"loading the cached opset took {elapsed:.2f}s"
    assert cache.load_opset() is second                   # then from memory


def test_corrupt_cache_file_is_rebuilt(isolated_cache):
    tmp_path, builds = isolated_cache
    cache.cache_path().parent.mkdir(parents=True, exist_ok=True)
    cache.cache_path().write_text("{not json")
    cache.load_opset()
    assert builds == [1]
    cache.clear_memory_cache()
    cache.load_opset()
    assert builds == [1]                                  # the rebuilt file is valid again


def test_refresh_rebuilds(isolated_cache):
    _, builds = isolated_cache
    cache.load_opset()
    cache.load_opset(refresh=True)
    assert builds == [1, 1]


def test_failed_torch_query_is_not_pinned_to_disk(isolated_cache, monkeypatch, opset):
    tmp_path, _ = isolated_cache
    import dataclasses
    broken = dataclasses.replace(opset, torch_query_error="could not query the installed torch")
    monkeypatch.setattr(cache, "build_opset", lambda: broken)
    assert cache.load_opset() is broken
    assert list(cache.cache_path().parent.glob("opset-torch*.json")) == []


def test_key_follows_the_inputs(isolated_cache, monkeypatch):
    before = cache.cache_path()
    monkeypatch.setattr(cache, "installed_torch_version", lambda: "9.9.9+test")
    assert cache.cache_path() != before and "9.9.9+test" in cache.cache_path().name

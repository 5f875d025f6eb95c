"""The shipped golden data: manifest, sha256 checks, and what a corrupt file does."""
import shutil

import pytest

from deeplink.conformance import golden


def test_manifest_lists_the_files_with_their_sha256():
    files = golden.shipped()
    assert {(f.kind, f.dtype) for f in files} >= {("forward", "float32"), ("gradients", "float32")}
    for f in files:
        assert f.path.exists(), f"{f.path} is listed in MANIFEST.json but missing"
        assert golden.sha256_of(f.path) == f.sha256


def test_load_checks_the_sha256(tmp_path):
    entry = next(f for f in golden.shipped() if f.kind == "forward")
    bad = tmp_path / entry.path.name
    shutil.copy(entry.path, bad)
    with open(bad, "r+b") as fh:              # flip one byte in the middle
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(golden.GoldenError, match="sha256"):
        golden.load(golden.GoldenFile(bad, entry.kind, entry.dtype, entry.sha256))


def test_forward_file_content_matches_the_readme():
    entry = next(f for f in golden.shipped() if f.kind == "forward" and f.dtype == "float32")
    data = golden.load(entry)
    assert data["meta"]["device_name"] == "NVIDIA H100 80GB HBM3"
    samples = [s for op in data["ops"].values() for s in op["samples"]]
    assert len(data["ops"]) == 672 and len(samples) == 8401
    assert sum("error" in s for s in samples) == 154
    aten = {a for s in samples for a in s["aten"]}
    assert len(aten) == 501

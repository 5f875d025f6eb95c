"""Golden data: the outputs (and gradients) real CUDA kernels gave for OpInfo samples.

The files ship in conformance/data/ and are listed in conformance/data/MANIFEST.json with their
sha256 and provenance; every load checks the sha256, so a truncated or edited file is refused
instead of silently producing a wrong report. Format (written by `conformance record`, and by the
H100 recorder before it): an lzma-compressed `torch.save` of

    {"meta": {"device", "dtype", "torch", "device_name", "kind"?, "stats", ...},
     "ops": {KEY: {"name", "variant", "nondeterministic"?, "samples": [...]}}}

KEY is the OpInfo name plus `.variant_test_name` when set. See docs/conformance.md.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
MANIFEST = DATA_DIR / "MANIFEST.json"

FORWARD, GRADIENTS = "forward", "gradients"


class GoldenError(RuntimeError):
    """A golden file is missing, corrupt, or not what its manifest says."""


@dataclass
class GoldenFile:
    path: Path
    kind: str                      # FORWARD or GRADIENTS
    dtype: str                     # "float32", "bfloat16", ...
    sha256: str | None             # expected; None for a user file given without one
    provenance: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"file": self.path.name, "kind": self.kind, "dtype": self.dtype,
                "sha256": self.sha256, **self.provenance}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def from_manifest(manifest: Path) -> list[GoldenFile]:
    """The files a MANIFEST.json lists (sha256 included: checked on load)."""
    entries = json.loads(manifest.read_text())["files"]
    return [GoldenFile(manifest.parent / e["file"], e["kind"], e["dtype"], e["sha256"],
                       {k: v for k, v in e.items() if k not in ("file", "kind", "dtype", "sha256")})
            for e in entries]


def shipped() -> list[GoldenFile]:
    """The golden files that ship with deeplink (conformance/data/MANIFEST.json)."""
    if not MANIFEST.exists():
        raise GoldenError(f"{MANIFEST} is missing: the conformance data folder is incomplete; "
                          "reinstall deeplink or restore conformance/data from the repository")
    return from_manifest(MANIFEST)


def user_files(path: str | Path) -> list[GoldenFile]:
    """`run --golden PATH`: a folder written by `conformance record` (its MANIFEST.json) or one file."""
    path = Path(path)
    if path.is_dir():
        if not (path / "MANIFEST.json").exists():
            raise GoldenError(f"{path} has no MANIFEST.json; give the folder `conformance record` wrote, "
                              "or a single .pt.xz file")
        return [GoldenFile(f.path, f.kind, f.dtype, f.sha256, {**f.provenance, "user_supplied": True})
                for f in from_manifest(path / "MANIFEST.json")]
    return [describe_user_file(path)]


def describe_user_file(path: str | Path) -> GoldenFile:
    """A golden file given on the command line (`run --golden PATH`): kind and dtype come from its
    meta; its sha256 is computed and reported (there is no manifest entry to check it against)."""
    path = Path(path)
    data = load_raw(path)
    meta = data["meta"]
    kind = meta.get("kind") or FORWARD
    dtype = str(meta.get("dtype", "")).replace("torch.", "")
    return GoldenFile(path, GRADIENTS if kind == GRADIENTS else FORWARD, dtype, sha256_of(path),
                      {"recorded_on": meta.get("device_name"), "torch": meta.get("torch"),
                       "user_supplied": True})


def load_raw(path: Path, expected_sha256: str | None = None) -> dict:
    if not path.exists():
        raise GoldenError(f"golden file {path} does not exist")
    raw = path.read_bytes()
    if expected_sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != expected_sha256:
            raise GoldenError(
                f"golden file {path} has sha256 {got}, expected {expected_sha256}: it is corrupt or "
                "was replaced. Restore it from the repository (git checkout conformance/data) or pass "
                "your own recording with --golden.")
    import warnings  # noqa: PLC0415

    import torch  # noqa: PLC0415  (keeps `import deeplink.conformance.golden` cheap)

    try:
        with warnings.catch_warnings():
            # Loading the few sparse-CSR / complex32 sample tensors warns "beta" / "experimental".
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(io.BytesIO(lzma.decompress(raw)), weights_only=False)
    except Exception as e:  # noqa: BLE001  (the file format is ours to explain)
        raise GoldenError(f"golden file {path} could not be read ({type(e).__name__}: {e}); "
                          "it should be an lzma-compressed torch.save, see docs/conformance.md") from e


def load(entry: GoldenFile) -> dict:
    return load_raw(entry.path, entry.sha256)


def select(files: list[GoldenFile], dtypes: list[str]) -> dict[tuple[str, str], GoldenFile]:
    """(kind, dtype) -> file, for the requested dtypes; later files win (user files come last)."""
    out: dict[tuple[str, str], GoldenFile] = {}
    for f in files:
        if f.dtype in dtypes:
            out[(f.kind, f.dtype)] = f
    return out

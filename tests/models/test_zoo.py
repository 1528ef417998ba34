import hashlib
from pathlib import Path

import pytest

from agegender import models
from agegender.errors import ChecksumError, ModelUnavailableError, UnknownModelError
from agegender.models import ModelFile, ModelRecord


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownModelError, match="Did you mean cydral-age"):
        models.get("cydral-agee")
    with pytest.raises(UnknownModelError, match="no gender model named 'cydral-age'"):
        models.get("cydral-age", "gender")


def test_every_record_is_complete():
    for r in models.records():
        if r.origin != "built-in":  # user cards registered by other tests (local files)
            continue
        assert r.task in ("detect", "age", "gender", "landmarks", "multi")
        assert r.license and r.description
        for f in r.files:
            assert f.sha256 and len(f.sha256) == 64, r.name
            assert f.package or f.url, r.name


def test_package_models_are_available_with_pip_alone(no_mirror):
    for name in ("cydral-age", "cydral-gender", "dlib-landmarks5", "hog", "yunet"):
        assert models.get(name).available(), name


def test_mirror_then_verify(use_mirror):
    rec = models.get("yunet-n")  # yunet ships inside agegender; yunet-n comes from a mirror
    assert rec.available()
    assert rec.path() == use_mirror / "yunet" / "yunet_n_dynamic.onnx"


def test_missing_without_mirror_says_how_to_fix(no_mirror):
    with pytest.raises(ModelUnavailableError, match="agegender models pull yunet-n"):
        models.get("yunet-n").path(fetch=False)


def _record(tmp_path: Path, data: bytes, sha: str) -> ModelRecord:
    src = tmp_path / "upstream" / "m.onnx"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    return ModelRecord(
        name="test-model",
        task="age",
        description="t",
        license="MIT",
        files=(ModelFile("m.onnx", sha, url=src.as_uri(), mirror_path="x/m.onnx"),),
    )


def test_download_goes_to_cache_and_is_checked(tmp_path: Path, no_mirror):
    data = b"model bytes"
    rec = _record(tmp_path, data, hashlib.sha256(data).hexdigest())
    p = rec.path()  # real download code path, over a file:// URL
    assert p.read_bytes() == data and p.parent.parent == models.cache_dir()
    assert rec.available()


def test_download_with_wrong_sha_is_not_kept(tmp_path: Path, no_mirror):
    rec = _record(tmp_path, b"tampered", "0" * 64)
    with pytest.raises(ChecksumError, match="expected 0000"):
        rec.path()
    assert not (models.cache_dir() / "test-model" / "m.onnx").exists()


def test_corrupt_mirror_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "m.onnx").write_bytes(b"corrupt")
    monkeypatch.setenv("AGEGENDER_MIRROR", str(tmp_path))
    rec = _record(tmp_path, b"good", hashlib.sha256(b"good").hexdigest())
    with pytest.raises(ChecksumError):
        rec.path(fetch=False)

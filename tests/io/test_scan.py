"""Folder scans: every format the decoder reads, symlinked folders once, and what is
skipped and why."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from agegender.io.images import decode_image
from agegender.io.scan import Skipped, expand_inputs, image_extensions, scan_folder


def _img(path: Path, **kw) -> Path:
    Image.fromarray(np.full((8, 10, 3), 120, np.uint8)).save(path, **kw)
    return path


def test_every_format_pillow_reads_is_scanned(tmp_path: Path):
    exts = image_extensions()
    assert {".jpg", ".png", ".webp", ".tif", ".qoi", ".tga"} <= exts
    assert not exts & {".h5", ".mp4", ".mpg", ".txt", ".eps"}  # stubs, videos, others
    fmt = "AVIF" if features.check("avif") else "TGA"  # AVIF when this Pillow can write it
    ext = ".avif" if fmt == "AVIF" else ".tga"
    _img(tmp_path / f"photo{ext}", format=fmt)
    _img(tmp_path / "b.qoi", format="QOI")
    found, skipped = scan_folder(tmp_path)
    assert [p.name for p in found] == ["b.qoi", f"photo{ext}"] and skipped == []
    assert decode_image(found[1]).shape == (8, 10, 3)


def test_skips_are_reported_with_reasons(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    _img(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")
    skipped: list[Skipped] = []
    with caplog.at_level(logging.INFO, logger="agegender.io.scan"):
        srcs = list(expand_inputs([str(tmp_path)], skipped=skipped))
    assert [Path(s.name).name for s in srcs] == ["a.jpg"]
    why = {Path(s.path).name: s.reason for s in skipped}
    assert "not an image extension (.txt)" in why["notes.txt"]
    assert "a video" in why["clip.mp4"]
    assert "cannot be read" in why["dangling.jpg"]
    if hasattr(os, "mkfifo"):
        assert "FIFO" in why["pipe.jpg"]
    assert all(f"skipped {s.path}: {s.reason}" in caplog.text for s in skipped)


def test_symlinked_folder_followed_once_and_loops_detected(tmp_path: Path):
    root = tmp_path / "photos"
    (root / "real").mkdir(parents=True)
    _img(root / "real" / "x.png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _img(outside / "y.png")
    (root / "linked").symlink_to(outside)  # a symlinked folder: followed
    (root / "again").symlink_to(root / "real")  # a second way to a folder: scanned once
    (root / "real" / "loop").symlink_to(root)  # a loop
    found, skipped = scan_folder(root)
    assert sorted(p.name for p in found) == ["x.png", "y.png"]
    assert found == sorted(found)
    why = {Path(s.path).name: s.reason for s in skipped}
    assert why["loop"].startswith("a symlink loop: already scanned as")
    assert why["again"] == f"the same folder: already scanned as {root / 'real'}"
    assert set(why) == {"loop", "again"}


def test_empty_folder_message_counts_skips(tmp_path: Path):
    (tmp_path / "a.txt").write_text("x")
    (src,) = list(expand_inputs([str(tmp_path)]))
    assert "holds no images" in str(src.error) and "skipped 1 other entry" in str(src.error)

"""HEIC/HEIF (what iPhones save): told from its bytes, read through pillow-heif (the heic
extra) registered on first need, found in folders, EXIF-rotated once, and a one-line error
that names the extra when pillow-heif is not installed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agegender.errors import ImageDecodeError
from agegender.io import heif
from agegender.io.images import decode_image, expand_inputs
from agegender.io.scan import image_extensions, scan_folder
from agegender.io.video_inputs import is_video

NEEDS_EXTRA = "HEIC needs the heic extra (pillow-heif): pip install '.[heic]'"
#: the first bytes of an iPhone photo: ftyp, major brand heic, compatible mif1 and heic
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 16


def _encoded(im: Image.Image, fmt: str, orientation: int | None, quality: int) -> bytes:
    """``im`` saved by Pillow as ``fmt``; ``orientation``: the EXIF tag it carries."""
    kw: dict[str, Any] = {"quality": quality}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.convert("RGB").save(buf, fmt, **kw)
    return buf.getvalue()


def heic_bytes(im: Image.Image, orientation: int | None = None, quality: int = 90) -> bytes:
    """``im`` saved as HEIC by pillow-heif; ``orientation``: the EXIF tag it carries."""
    pytest.importorskip("pillow_heif", reason=NEEDS_EXTRA)
    assert heif.register_heif()
    return _encoded(im, "HEIF", orientation, quality)


def jpeg_bytes(im: Image.Image, orientation: int | None = None) -> bytes:
    return _encoded(im, "JPEG", orientation, 95)


def quadrants(w: int = 96, h: int = 64) -> Image.Image:
    """Four flat colours: any rotation or mirroring moves them."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (230, 30, 30)
    a[: h // 2, w // 2 :] = (30, 230, 30)
    a[h // 2 :, : w // 2] = (30, 30, 230)
    a[h // 2 :, w // 2 :] = (230, 230, 30)
    return Image.fromarray(a)


@pytest.fixture
def no_pillow_heif(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the heic extra were not installed: pillow_heif cannot be imported, and the
    lazy registration is tried again (the state is restored afterwards)."""
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setattr(heif, "_state", None)


# ----------------------------------------------------------------------------- no extra


def test_brands_are_told_apart(tmp_path: Path) -> None:
    assert heif.ftyp_type(HEIC_HEAD) == "image/heic"
    for major in (b"heix", b"hevc", b"heim", b"heis", b"hevx", b"hevm", b"hevs"):
        assert heif.ftyp_type(HEIC_HEAD[:8] + major + HEIC_HEAD[12:]) == "image/heic", major
    # the generic container: HEIC, AVIF or another codec by its compatible brands
    assert heif.ftyp_type(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic") == "image/heic"
    assert heif.ftyp_type(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif") == "image/avif"
    assert heif.ftyp_type(b"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00msf1miaf") == "image/heif"
    assert heif.ftyp_type(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf") == "image/avif"
    for other in (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", b"\xff\xd8\xff\xe0", b""):
        assert heif.ftyp_type(other) is None
    assert heif.is_heif(HEIC_HEAD) and not heif.is_heif(b"\x00\x00\x00\x1cftypavif")
    # a HEIC still image (or burst) is never taken for a video
    for name, major in (("a.heic", b"heic"), ("b.heics", b"hevs"), ("c.hif", b"mif1")):
        (tmp_path / name).write_bytes(HEIC_HEAD[:8] + major + HEIC_HEAD[12:])
        assert not is_video(tmp_path / name), name


def test_missing_extra_is_one_line_that_names_it(no_pillow_heif: None, tmp_path: Path) -> None:
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(HEIC_HEAD + b"\x00" * 200)
    for data, name in ((p, str(p)), (p.read_bytes(), "<bytes>")):
        with pytest.raises(ImageDecodeError) as e:
            decode_image(data)
        msg = str(e.value)
        assert msg.startswith(f"{name}: a HEIC/HEIF image") and "\n" not in msg
        assert 'pip install "agegender[heic]"' in msg and "pillow-heif" in msg
    assert heif.register_heif() is False
    # other formats are not affected
    assert decode_image(jpeg_bytes(quadrants())).shape == (64, 96, 3)


def test_folders_pick_up_heic_with_or_without_the_extra(
    no_pillow_heif: None, tmp_path: Path
) -> None:
    assert {".heic", ".heif", ".hif"} <= image_extensions()
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(quadrants()))
    (tmp_path / "b.HEIC").write_bytes(HEIC_HEAD + b"\x00" * 200)
    (tmp_path / "c.heif").write_bytes(HEIC_HEAD + b"\x00" * 200)
    found, skipped = scan_folder(tmp_path)
    assert [f.name for f in found] == ["a.jpg", "b.HEIC", "c.heif"] and skipped == []
    sources = list(expand_inputs([str(tmp_path)]))
    with pytest.raises(ImageDecodeError, match=r"agegender\[heic\]"):  # not left out in silence
        decode_image(sources[1].path)


def test_nothing_is_registered_at_import_or_for_a_jpeg(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(jpeg_bytes(quadrants()))
    code = (
        "import sys, agegender, agegender.io.images as im\n"
        f"im.decode_image({str(p)!r})\n"
        "print('pillow_heif' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- with the extra


def test_registered_once_after_pillows_own_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pillow_heif", reason=NEEDS_EXTRA)
    monkeypatch.setattr(heif, "_state", None)
    assert heif.register_heif() is True and heif.register_heif() is True
    assert "HEIF" in Image.OPEN
    if "AVIF" in Image.ID:  # AVIF's plugin (which accepts mif1 too) is tried first
        assert Image.ID.index("AVIF") < Image.ID.index("HEIF")


def test_heic_decodes_like_the_jpeg() -> None:
    im = quadrants()
    got = decode_image(heic_bytes(im, quality=95))
    assert got.shape == (64, 96, 3)
    assert np.abs(got.astype(int) - np.asarray(im, dtype=int)).mean() < 8


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_once(orientation: int) -> None:
    im = quadrants()
    want = decode_image(jpeg_bytes(im, orientation))  # the JPEG as displayed
    got = decode_image(heic_bytes(im, orientation, quality=95))
    assert want.shape[:2] == ((64, 96) if orientation == 3 else (96, 64))
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 8  # not rotated twice


def test_a_truncated_heic_says_so() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (128, 192, 3), dtype=np.uint8)
    data = heic_bytes(Image.fromarray(noise))
    for cut in (100, len(data) * 3 // 4):  # in the container's header, in the pixels
        with pytest.raises(ImageDecodeError, match="truncated") as e:
            decode_image(data[:cut], name="cut.heic")
        assert str(e.value).startswith("cut.heic: ")


# ----------------------------------------------------------------------------- real photos


@pytest.fixture(scope="module")
def group(photos: Path) -> Image.Image:
    with Image.open(photos / "group_t1.jpg") as im:
        return im.convert("RGB")


def _same_faces(a: Any, b: Any, px: float = 4.0) -> None:
    """Six faces in each, every box of one within ``px`` of a box of the other."""
    ba, bb = np.asarray(a.boxes), np.asarray(b.boxes)
    assert len(ba) == len(bb) == 6
    worst = np.abs(ba[:, None, :] - bb[None, :, :]).max(axis=2).min(axis=1).max()
    assert worst <= px, worst


def test_analyze_finds_the_faces_of_the_jpeg(photos: Path, group: Image.Image, tmp_path: Path) -> None:
    import agegender

    p = tmp_path / "group.heic"
    p.write_bytes(heic_bytes(group))
    jpeg = agegender.analyze(photos / "group_t1.jpg")
    _same_faces(agegender.analyze(str(p)), jpeg)
    _same_faces(agegender.Analyzer().analyze(p.read_bytes()), jpeg)


def test_rotated_heic_gives_boxes_as_displayed(group: Image.Image) -> None:
    from agegender import Analyzer

    analyzer = Analyzer()
    # as a phone held sideways stores it: pixels turned, EXIF orientation 6 (turn 90 deg
    # clockwise to display); HEIF also has it as its container's rotation
    stored = group.transpose(Image.Transpose.ROTATE_90)
    want = analyzer.analyze(jpeg_bytes(group))
    _same_faces(analyzer.analyze(jpeg_bytes(stored, orientation=6)), want)
    got = analyzer.analyze(heic_bytes(stored, orientation=6))
    _same_faces(got, want)  # displayed orientation, turned once


def test_cli_analyzes_a_folder_with_a_heic(
    photos: Path, group: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agegender.cli import main

    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(heic_bytes(group))
    (folder / "b.jpg").write_bytes((photos / "group_t1.jpg").read_bytes())
    assert main(["analyze", str(folder)]) == 0
    rows = {Path(r["source"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {"IMG_0001.HEIC", "b.jpg"}
    heic, jpg = rows["IMG_0001.HEIC"], rows["b.jpg"]
    assert heic["error"] is None and (heic["width"], heic["height"]) == (1280, 886)
    boxes = SimpleNamespace(boxes=[f["box"] for f in heic["faces"]])
    _same_faces(boxes, SimpleNamespace(boxes=[f["box"] for f in jpg["faces"]]))

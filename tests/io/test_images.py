"""Every bad input of the core issue, and the odd-but-valid image modes."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender.errors import ImageDecodeError, ImageTooLargeError, InputError, SourceNotFoundError
from agegender.io.images import as_rgb, decode_image, expand_inputs


def _png(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, format="PNG", **kw)
    return b.getvalue()


def _jpeg(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, format="JPEG", **kw)
    return b.getvalue()


def test_missing_file(tmp_path: Path):
    with pytest.raises(SourceNotFoundError, match="no such file"):
        decode_image(tmp_path / "nope.jpg")


def test_empty_file(tmp_path: Path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(p)


def test_not_an_image():
    with pytest.raises(ImageDecodeError, match="not a recognised image"):
        decode_image(b"hello, this is text and not a picture" * 10)


def test_truncated_jpeg():
    data = _jpeg(Image.new("RGB", (200, 200), (120, 50, 30)))
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_pixel_limit_refused_before_decoding(monkeypatch: pytest.MonkeyPatch):
    data = _png(Image.new("L", (4000, 3000)))

    def no_load(self):  # decoding must not start
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_load)
    with pytest.raises(ImageTooLargeError, match="4000x3000 = 12,000,000 pixels is above"):
        decode_image(data, max_pixels=10_000_000)


def test_pixel_limit_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AGEGENDER_MAX_PIXELS", "100")
    with pytest.raises(ImageTooLargeError):
        decode_image(_png(Image.new("RGB", (20, 20))))


@pytest.mark.parametrize(
    "im",
    [
        Image.new("L", (10, 8), 77),
        Image.new("RGBA", (10, 8), (10, 20, 30, 255)),
        Image.new("LA", (10, 8), (77, 255)),
        Image.new("P", (10, 8)),
        Image.new("1", (10, 8)),
    ],
    ids=["L", "RGBA", "LA", "P", "1"],
)
def test_modes_become_rgb(im):
    a = decode_image(_png(im))
    assert a.shape == (8, 10, 3) and a.dtype == np.uint8


def test_16bit_png_is_scaled():
    im = Image.fromarray(np.full((6, 9), 65535, np.uint16))
    a = decode_image(_png(im))
    assert a.shape == (6, 9, 3) and a.max() == 255


def test_cmyk_jpeg():
    im = Image.new("CMYK", (12, 10), (0, 255, 255, 0))  # red
    a = decode_image(_jpeg(im))
    assert a.shape == (10, 12, 3)
    assert a[..., 0].mean() > 200 and a[..., 1].mean() < 60


def test_exif_orientation_applied():
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 10, 20))  # white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    a = decode_image(_jpeg(im, exif=exif.tobytes()))
    assert a.shape[:2] == (40, 20)  # portrait after rotation
    assert a[:8].mean() > 200  # the stripe is now on top


def test_numpy_needs_channels_and_uint8():
    arr = np.zeros((4, 5, 3), np.uint8)
    arr[..., 2] = 255
    with pytest.raises(InputError, match="channel order"):
        as_rgb(arr)
    assert as_rgb(arr, channels="BGR")[0, 0].tolist() == [255, 0, 0]
    assert as_rgb(arr, channels="RGB")[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(InputError, match="dtype float64"):
        as_rgb(arr.astype(float), channels="RGB")
    with pytest.raises(InputError, match="cannot read an image from a int"):
        as_rgb(5)


def test_expand_inputs(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"1")
    (tmp_path / "a" / "sub").mkdir()
    (tmp_path / "a" / "sub" / "y.PNG").write_bytes(b"1")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    srcs = list(expand_inputs([str(tmp_path / "a"), str(tmp_path / "empty"), str(tmp_path / "zz")]))
    assert sorted(Path(s.name).name for s in srcs if s.error is None) == ["x.jpg", "y.PNG"]
    errs = [str(s.error) for s in srcs if s.error is not None]
    assert any("holds no images" in e for e in errs) and any("no such file" in e for e in errs)
    (stdin,) = list(expand_inputs(["-"], stdin=io.BytesIO(b"abc")))
    assert stdin.read() == b"abc"  # read when decoded, not when listed

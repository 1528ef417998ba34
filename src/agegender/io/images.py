"""Decoding images safely: EXIF orientation, every common mode, and a pixel limit.

The pixel limit is checked from the header, before the pixels are decoded, so a
decompression bomb (a small file that decodes to gigapixels) is refused cheaply.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ImageDecodeError, ImageTooLargeError, InputError, SourceNotFoundError

log = logging.getLogger(__name__)

#: Default limit on decoded pixels (width x height); ``AGEGENDER_MAX_PIXELS`` overrides it.
DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jfif"}
)
Channels = Literal["RGB", "BGR"]


def max_pixels_default() -> int:
    env = os.environ.get("AGEGENDER_MAX_PIXELS")
    if env:
        try:
            return int(env)
        except ValueError:
            raise InputError(
                f"AGEGENDER_MAX_PIXELS must be a whole number of pixels, got {env!r}"
            ) from None
    return DEFAULT_MAX_PIXELS


def _to_rgb_array(im: Any) -> NDArray[np.uint8]:
    """Any Pillow mode to an (H, W, 3) uint8 RGB array (16-bit scaled, alpha dropped)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im)
        a = a.astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2))
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        top = 1.0 if a.max() <= 1.0 else 255.0
        a = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        # composite on white: transparent regions become neutral background
        from PIL import Image

        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def decode_image(
    data: bytes | Path | str, *, max_pixels: int | None = None, name: str | None = None
) -> NDArray[np.uint8]:
    """Decode a file or bytes to an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Raises:
        SourceNotFoundError: the path does not exist.
        ImageDecodeError: empty, truncated, or not an image.
        ImageTooLargeError: more pixels than ``max_pixels`` (checked before decoding).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    if isinstance(data, (str, Path)):
        path = Path(data)
        where = name or str(path)
        if not path.exists():
            raise SourceNotFoundError(f"{where}: no such file; check the path")
        if path.is_dir():
            raise InputError(f"{where}: is a folder; pass the folder itself to analyze its images")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ImageDecodeError(f"{where}: cannot be read ({e.strerror or e})") from e
    else:
        where = name or "<bytes>"
    if len(data) == 0:
        raise ImageDecodeError(f"{where}: the file is empty (0 bytes); it holds no image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit below
            try:
                im = Image.open(io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = old
            w, h = im.size
            if w * h > limit:
                raise ImageTooLargeError(
                    f"{where}: {w}x{h} = {w * h:,} pixels is above the limit of {limit:,}; "
                    "downscale it, or raise the limit with --max-pixels / AGEGENDER_MAX_PIXELS"
                )
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb_array(im)
    except (ImageTooLargeError, InputError):
        raise
    except UnidentifiedImageError as e:
        raise ImageDecodeError(
            f"{where}: not a recognised image format ({len(data):,} bytes); "
            "supported: JPEG, PNG, BMP, GIF, TIFF, WebP"
        ) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e)
        if "truncated" in msg.lower():
            raise ImageDecodeError(
                f"{where}: the image data is truncated (incomplete file); re-copy or "
                "re-download it"
            ) from e
        raise ImageDecodeError(f"{where}: cannot decode the image ({msg})") from e


def as_rgb(
    image: Any, *, channels: Channels | None = None, max_pixels: int | None = None
) -> NDArray[np.uint8]:
    """Turn a path, bytes, PIL image or numpy array into an (H, W, 3) uint8 RGB array.

    A numpy array must come with its channel order stated (``channels="RGB"`` for
    Pillow/matplotlib/imageio arrays, ``"BGR"`` for OpenCV's); 2-D arrays are
    grayscale, 4-channel arrays have their alpha dropped. Other dtypes are refused
    rather than guessed: convert them to uint8 0..255 first.
    """
    if isinstance(image, (str, Path, bytes, bytearray, memoryview)):
        if isinstance(image, (bytearray, memoryview)):
            image = bytes(image)
        return decode_image(image, max_pixels=max_pixels)
    if isinstance(image, np.ndarray):
        a = image
        if a.dtype != np.uint8:
            raise InputError(
                f"image array has dtype {a.dtype}; pass uint8 values 0..255 "
                "(e.g. (img * 255).astype(np.uint8) for floats in 0..1)"
            )
        if a.ndim == 2:
            return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=2))
        if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
            raise InputError(
                f"image array has shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)"
            )
        if channels is None:
            raise InputError(
                "a numpy image needs its channel order: pass channels='RGB' (Pillow, "
                "imageio) or channels='BGR' (OpenCV's cv2.imread)"
            )
        if channels not in ("RGB", "BGR"):
            raise InputError(f"channels must be 'RGB' or 'BGR', got {channels!r}")
        a = a[..., :3]
        if channels == "BGR":
            a = a[..., ::-1]
        return np.ascontiguousarray(a)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(image, Image.Image):
        from PIL import ImageOps

        return _to_rgb_array(ImageOps.exif_transpose(image))
    raise InputError(
        f"cannot read an image from a {type(image).__name__}; pass a path, bytes, a "
        "PIL.Image or a numpy array"
    )


@dataclass(frozen=True)
class Source:
    """One input to analyze: a file, stdin bytes, or a problem found while listing inputs."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    error: Exception | None = None


def expand_inputs(inputs: Iterable[str], *, stdin: Any = None) -> Iterator[Source]:
    """Expand CLI inputs: files, folders (recursively, by image extension), ``-`` (stdin).

    Problems (a missing path, a folder with no images) are yielded as sources that
    carry their error, so the caller reports them and goes on with the rest.
    """
    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else __import__("sys").stdin.buffer
            yield Source(name="<stdin>", data=stream.read())
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
            )
            if not found:
                yield Source(
                    name=item,
                    error=SourceNotFoundError(
                        f"{item}: folder holds no images (looked for "
                        f"{', '.join(sorted(IMAGE_EXTENSIONS))}, recursively)"
                    ),
                )
            for f in found:
                yield Source(name=str(f), path=f)
        elif p.exists():
            yield Source(name=item, path=p)
        else:
            yield Source(name=item, error=SourceNotFoundError(f"{item}: no such file or folder"))

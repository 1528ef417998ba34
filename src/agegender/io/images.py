"""Decoding images safely: EXIF orientation, every common mode, and a pixel limit.

The pixel limit is checked from the header, before the pixels are decoded, so a
decompression bomb (a small file that decodes to gigapixels) is refused cheaply.
HEIC/HEIF is read through pillow-heif (the ``heic`` extra; :mod:`agegender.io.heif`).
"""

from __future__ import annotations

import io
import logging
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import ImageDecodeError, ImageTooLargeError, InputError, SourceNotFoundError
from .heif import heif_missing, is_heif, register_heif
from .scan import IMAGE_EXTENSIONS, Skipped, Source, expand_inputs, image_extensions

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "OpenedImage", "Skipped", "Source", "as_rgb",
    "decode_image", "expand_inputs", "image_extensions", "max_pixels_default", "open_image",
    "read_regular_file",
]

log = logging.getLogger(__name__)

#: Default limit on decoded pixels (width x height); ``AGEGENDER_MAX_PIXELS`` overrides it.
DEFAULT_MAX_PIXELS = 100_000_000
Channels = Literal["RGB", "BGR"]


def max_pixels_default() -> int:
    """``AGEGENDER_MAX_PIXELS`` when set (a positive whole number), else the default."""
    env = os.environ.get("AGEGENDER_MAX_PIXELS")
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value <= 0:
            raise InputError(
                f"AGEGENDER_MAX_PIXELS must be a positive whole number of pixels, got {env!r}"
            )
        return value
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


def read_regular_file(path: Path, where: str) -> bytes:
    """The bytes of ``path``, which must be a regular file (never blocks on a FIFO).

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` before it is read,
    so a FIFO, socket or device named as an image is refused at once.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceNotFoundError(f"{where}: no such file; check the path") from None
    except OSError as e:
        raise ImageDecodeError(f"{where}: cannot be read ({e.strerror or e})") from e
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{where}: is a folder; pass the folder itself to analyze its images")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{where}: {_not_regular(st.st_mode)}; only regular files are read")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ImageDecodeError(f"{where}: cannot be read ({e.strerror or e})") from e
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):  # replaced between the stat and the open
            raise InputError(f"{where}: {_not_regular(mode)}; only regular files are read")
        try:
            return f.read()
        except OSError as e:
            raise ImageDecodeError(f"{where}: cannot be read ({e.strerror or e})") from e


def _not_regular(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    return "is not a regular file"


# What Pillow's plugins raise on corrupt or odd files (each becomes an ImageDecodeError);
# RuntimeError: pillow-heif's, for a codec its libheif lacks (e.g. AV1 in a HEIF file).
_PILLOW_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
    ZeroDivisionError, RuntimeError,
)


def _open_unchecked(data: bytes) -> Any:
    """``PIL.Image.open`` on bytes, without Pillow's process-wide bomb check.

    Pillow compares every image it opens against the global ``Image.MAX_IMAGE_PIXELS``
    (a warning above it, an error above twice it). We never change that global (other
    threads and the caller's own code rely on it); instead this opens the header through
    Pillow's plugin registry, as ``Image.open`` does, and the caller applies its own
    per-call limit before any pixel is decoded.
    """
    from PIL import Image, UnidentifiedImageError

    fp = io.BytesIO(data)
    try:
        registry, ids, preinit, init = Image.OPEN, Image.ID, Image.preinit, Image.init
    except AttributeError:  # pragma: no cover - a Pillow without these: its own open
        return Image.open(fp)
    prefix = data[:16]
    notes: list[str] = []
    tried: set[str] = set()
    for loader in (preinit, init):
        loader()
        for fmt in list(ids):
            if fmt in tried:
                continue
            tried.add(fmt)
            factory, accept = registry[fmt]
            try:  # as Image.open: a plugin that fails on these is not this format
                ok = not accept or accept(prefix)
                if isinstance(ok, str):
                    notes.append(ok)
                    continue
                if not ok:
                    continue
                fp.seek(0)
                return factory(fp, "")
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue
    raise UnidentifiedImageError("; ".join(notes) or "cannot identify image file")


@dataclass
class OpenedImage:
    """An image whose header is read and whose size is within the limit; not decoded yet.

    ``pixels`` is what :meth:`decode` will hold (``width * height`` RGB pixels): reserve
    it in a :class:`~agegender.io.budget.PixelBudget` before decoding.
    """

    name: str
    width: int
    height: int
    nbytes: int
    _im: Any

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def decode(self) -> NDArray[np.uint8]:
        """The (H, W, 3) uint8 RGB array, EXIF orientation applied."""
        from PIL import Image, ImageOps

        im, self._im = self._im, None
        if im is None:
            raise InputError(f"{self.name}: this OpenedImage was decoded already")
        try:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            return _to_rgb_array(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            # a plugin's own check (e.g. a GIF frame larger than its header said)
            raise ImageTooLargeError(
                f"{self.name}: refused as a decompression bomb while decoding ({e})"
            ) from e
        except _PILLOW_ERRORS as e:
            raise _decode_error(self.name, e) from e
        finally:
            im.close()


def _decode_error(where: str, e: BaseException) -> ImageDecodeError:
    msg = str(e)
    if "truncated" in msg.lower() or "unexpected end of file" in msg.lower():  # libheif's words
        return ImageDecodeError(
            f"{where}: the image data is truncated (incomplete file); re-copy or re-download it"
        )
    return ImageDecodeError(f"{where}: cannot decode the image ({msg})")


def open_image(
    data: bytes | Path | str, *, max_pixels: int | None = None, name: str | None = None
) -> OpenedImage:
    """Read a file (regular files only) or take bytes, and read the image header.

    The size is checked against ``max_pixels`` (default :func:`max_pixels_default`) here,
    per call: nothing process-wide is changed, so threads with different limits do not
    interfere, and Pillow's own ``Image.MAX_IMAGE_PIXELS`` stays what it was.

    Raises:
        SourceNotFoundError: the path does not exist.
        InputError: the path is a folder, a FIFO, a socket or a device.
        ImageDecodeError: empty, or not an image.
        ImageTooLargeError: more pixels than ``max_pixels`` (nothing decoded).
    """
    from PIL import Image, UnidentifiedImageError

    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    if isinstance(data, (str, Path)):
        where = name or str(data)
        data = read_regular_file(Path(data), where)
    else:
        where = name or "<bytes>"
    if len(data) == 0:
        raise ImageDecodeError(f"{where}: the file is empty (0 bytes); it holds no image")
    if is_heif(data) and not register_heif():
        raise heif_missing(where)
    try:
        im = _open_unchecked(data)
    except UnidentifiedImageError as e:
        if is_heif(data):  # pillow-heif refused its container
            raise ImageDecodeError(
                f"{where}: a HEIC/HEIF image whose container cannot be read ({len(data):,} "
                "bytes): truncated or damaged; re-copy or re-download it"
            ) from e
        raise ImageDecodeError(
            f"{where}: not a recognised image format ({len(data):,} bytes); "
            "supported: JPEG, PNG, WebP, AVIF, HEIC, TIFF, BMP, GIF and the other formats "
            "Pillow reads"
        ) from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageTooLargeError(f"{where}: refused as a decompression bomb ({e})") from e
    except _PILLOW_ERRORS as e:
        raise _decode_error(where, e) from e
    w, h = im.size
    if w * h > limit:
        im.close()
        raise ImageTooLargeError(
            f"{where}: {w}x{h} = {w * h:,} pixels is above the limit of {limit:,}; "
            "downscale it, or raise the limit with --max-pixels / AGEGENDER_MAX_PIXELS"
        )
    return OpenedImage(where, w, h, len(data), im)


def decode_image(
    data: bytes | Path | str, *, max_pixels: int | None = None, name: str | None = None
) -> NDArray[np.uint8]:
    """Decode a file or bytes to an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Thread-safe; the pixel limit applies to this call only (see :func:`open_image`).

    Raises:
        SourceNotFoundError: the path does not exist.
        InputError: the path is a folder, a FIFO, a socket or a device.
        ImageDecodeError: empty, truncated, or not an image.
        ImageTooLargeError: more pixels than ``max_pixels`` (checked before decoding).
    """
    return open_image(data, max_pixels=max_pixels, name=name).decode()


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

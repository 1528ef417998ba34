"""HEIC/HEIF, the format iPhones save: told from the first bytes, read through pillow-heif.

Pillow cannot read HEIC by itself. With the ``heic`` extra (``pip install
"agegender[heic]"``, pillow-heif), :func:`register_heif` adds pillow-heif's opener to
Pillow on first need, once per process: nothing is imported when agegender is, nor for a
JPEG. Pillow's own plugins are registered first, so that AVIF, which shares HEIF's
container (``mif1``), stays with Pillow's AVIF plugin. pillow-heif applies the rotation
and mirroring of the HEIF container (``irot``/``imir``) when it decodes and resets the
EXIF orientation to 1, so the usual ``exif_transpose`` does not rotate a second time.
"""

from __future__ import annotations

import logging
import threading

from ..errors import ImageDecodeError

__all__ = [
    "HEIF_EXTENSIONS", "HEIF_TYPES", "IMAGE_BRANDS", "INSTALL_HINT", "ftyp_type", "heif_missing", "is_heif",
    "register_heif",
]

log = logging.getLogger(__name__)

#: File extensions of HEIF images (``.heics``/``.heifs``: sequences, their primary image is read).
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".heics", ".heifs", ".hif"})
#: The media types of HEIF images: HEVC-coded (iPhone) and any other codec.
HEIF_TYPES = ("image/heic", "image/heif")
INSTALL_HINT = 'pip install "agegender[heic]"'

#: ISO-BMFF brands of HEVC-coded HEIF images and sequences (HEIC).
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
#: The generic HEIF container brands (image, sequence), which AVIF files use too.
_CONTAINER_BRANDS = frozenset({b"mif1", b"msf1"})
#: ISO-BMFF brands of AVIF (major brand, or a compatible brand of a HEIF container).
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
#: Every brand of a still image in an ISO-BMFF ``ftyp`` box (HEIC, HEIF, AVIF), which a
#: video sniffer must not take for video.
IMAGE_BRANDS = _HEIC_BRANDS | _CONTAINER_BRANDS | _AVIF_BRANDS

_lock = threading.Lock()
_state: bool | None = None  # None: not tried yet; then whether pillow-heif is registered


def ftyp_type(data: bytes) -> str | None:
    """``image/avif``, ``image/heic`` or ``image/heif`` from an ISO-BMFF ``ftyp`` box at the
    start of ``data`` (its major brand, else its compatible brands); None for anything else.

    AVIF wins over HEIC when a container lists both; a ``mif1``/``msf1`` container that
    lists neither is ``image/heif`` (another codec in a HEIF file).
    """
    if data[4:8] != b"ftyp":
        return None
    major = data[8:12]
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major not in _CONTAINER_BRANDS:
        return None
    size = int.from_bytes(data[:4], "big")
    end = size if 16 <= size <= min(len(data), 4096) else 16
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    if compatible & _AVIF_BRANDS:
        return "image/avif"
    return "image/heic" if compatible & _HEIC_BRANDS else "image/heif"


def is_heif(data: bytes) -> bool:
    """Whether ``data`` starts as a HEIC/HEIF image (AVIF is not: Pillow reads it)."""
    return ftyp_type(data) in HEIF_TYPES


def register_heif() -> bool:
    """pillow-heif's opener in Pillow's registry (the first call only; thread-safe); whether
    HEIF can be read here, False when pillow-heif is not installed."""
    global _state
    if _state is None:
        with _lock:
            if _state is None:
                _state = _register()
    return _state


def _register() -> bool:
    try:
        import pillow_heif
    except ImportError:
        log.debug("pillow-heif is not installed: HEIC/HEIF images cannot be read")
        return False
    from PIL import Image

    Image.init()  # Pillow's plugins first: AVIF's (which accepts mif1 too) is tried before HEIF
    if "HEIF" not in Image.OPEN:  # a registration of the caller's own (its options) stands
        pillow_heif.register_heif_opener()
    return True


def heif_missing(where: str) -> ImageDecodeError:
    """The error for a HEIC/HEIF image when pillow-heif is not installed."""
    return ImageDecodeError(
        f"{where}: a HEIC/HEIF image (the format iPhones save); reading it needs pillow-heif, "
        f"which is not installed: {INSTALL_HINT}"
    )

"""Recognising video inputs: file extensions, container magic bytes, stream URLs.

:func:`is_video` decides by extension, else by the first bytes of the file;
:func:`is_stream_url` tells a network stream (``rtsp://``, ``http(s)://``, ...)
from a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from .heif import IMAGE_BRANDS

__all__ = ["STREAM_SCHEMES", "VIDEO_EXTENSIONS", "is_stream_url", "is_video"]

#: File extensions taken as video without looking at the content.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
)
#: URL schemes opened as network streams.
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")

# ISO base media brands that are still images, not video (HEIF/HEIC/AVIF share "ftyp"),
# and a few other image formats in the same box (AVC-coded HEIF, JPEG 2000, Canon raw)
_IMAGE_BRANDS = IMAGE_BRANDS | {b"avci", b"jpx ", b"jp2 ", b"crx "}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # WMV / ASF header object


def _sniff(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a video container."""
    if len(head) >= 12 and head[4:8] == b"ftyp":  # MP4, MOV, M4V, 3GP
        return head[8:12] not in _IMAGE_BRANDS
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True  # old QuickTime without ftyp
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, WebM
        return True
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):  # MPEG program / video stream
        return True
    if head[:16] == _ASF_GUID:
        return True
    if head[:3] == b"FLV":
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG transport stream


def is_stream_url(source: str) -> bool:
    """Whether ``source`` is a URL (``rtsp://``, ``http(s)://``, ...) rather than a path."""
    return source.lower().startswith(STREAM_SCHEMES)


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a video: by extension, else by its first bytes.

    Recognizes MP4/MOV/M4V (``ftyp`` box; HEIC/AVIF still images excluded), AVI
    (``RIFF....AVI``), Matroska/WebM (EBML magic), MPEG-PS/TS, ASF/WMV and FLV.
    Stream URLs (``rtsp://``, ``rtmp://``, ...) are videos; an ``http(s)://`` URL is
    one when its path ends with a video extension. A file that cannot be read is not.
    """
    s = os.fspath(path)
    if is_stream_url(s):
        if s.lower().startswith(("http://", "https://")):
            tail = s.split("?", 1)[0].split("#", 1)[0]
            return Path(tail).suffix.lower() in VIDEO_EXTENSIONS
        return True
    p = Path(s)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(192)
    except OSError:
        return False
    return _sniff(head)

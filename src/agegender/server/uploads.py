"""Reading an uploaded image into memory: size limits, content types, multipart, sniffing.

Nothing here touches the disk: Starlette's own form parser spools parts above 1 MB to
a temporary file, so multipart bodies are parsed in memory with ``python-multipart``'s
streaming parser instead.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..errors import ImageTooLargeError
from ..io.heif import HEIF_TYPES, INSTALL_HINT, ftyp_type, register_heif
from .errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

log = logging.getLogger(__name__)

#: Room for multipart boundaries and part headers on top of the image itself.
MULTIPART_OVERHEAD = 64 * 1024
#: What a client can do about an upload above ``max_upload_bytes``.
SMALLER = "send a smaller file (downscale the image, or save it as a JPEG of lower quality)"
#: Multipart field names that may carry the image.
IMAGE_FIELDS = ("image", "file")

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
#: The Pillow plugin of each accepted type: the one that reads its header (:func:`header_size`).
PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/avif": "AVIF",
    "image/heic": "HEIF",  # pillow-heif's (the heic extra), registered on first need
    "image/heif": "HEIF",
}
#: What the accepted images are, for messages.
FORMAT_NAMES = "JPEG, PNG, WebP, AVIF, HEIC, BMP, GIF or TIFF"


@dataclass(frozen=True)
class Upload:
    """An uploaded image, in memory: its bytes, a name for messages, its sniffed type."""

    data: bytes
    name: str
    media_type: str


def sniff(data: bytes) -> str | None:
    """The image type that the first bytes show (JPEG, PNG, GIF, BMP, TIFF, WebP, AVIF,
    HEIC/HEIF: :func:`agegender.io.heif.ftyp_type`), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    kind = ftyp_type(data)
    if kind is not None:
        return kind
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``Content-Type`` split into the lower-case type and its parameters."""
    if not header:
        return "", {}
    kind, *rest = header.split(";")
    params: dict[str, str] = {}
    for p in rest:
        k, _, v = p.strip().partition("=")
        if k:
            params[k.lower()] = v.strip().strip('"')
    return kind.strip().lower(), params


async def read_limited(
    chunks: AsyncIterator[bytes], limit: int, content_length: str | None
) -> bytes:
    """The whole body, refused (413) as soon as it is known to be above ``limit`` bytes."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLargeError(
            f"the upload is {int(content_length):,} bytes, above this server's limit of "
            f"{limit:,} bytes; {SMALLER}"
        )
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(
                f"the upload is above this server's limit of {limit:,} bytes; {SMALLER}"
            )
    return bytes(body)


def check_type(declared: str, allowed: tuple[str, ...]) -> None:
    """Refuse (415) a declared content type that is not in ``allowed``."""
    if declared not in allowed:
        raise UnsupportedMediaTypeError(
            f"content type {declared or '(none)'!r} is not accepted; send one of "
            f"{', '.join(allowed)} (raw body) or multipart/form-data with an 'image' field"
        )


def check_image(data: bytes, declared: str, name: str, allowed: tuple[str, ...]) -> Upload:
    """Check a declared type (415) and the bytes' own signature (400) against ``allowed``."""
    check_type(declared, allowed)
    if not data:
        raise BadRequestError(f"{name}: the upload is empty (0 bytes); it holds no image")
    kind = sniff(data)
    if kind is None or kind not in allowed:
        raise BadRequestError(
            f"{name}: not a recognised image ({len(data):,} bytes); send a {FORMAT_NAMES} image"
        )
    if kind in HEIF_TYPES and not register_heif():
        _warn_heif_once()
        raise UnsupportedMediaTypeError(
            f"{name}: a HEIC/HEIF image, which this server cannot read; send the photo as a "
            "JPEG, PNG or WebP (e.g. exported from the phone's Photos app)"
        )
    return Upload(data=data, name=name, media_type=kind)


@functools.cache
def _warn_heif_once() -> None:
    """The operator's hint, once per process (not at every refused upload)."""
    log.warning("refused a HEIC/HEIF upload: pillow-heif is not installed here (to accept "
                "them: %s); further ones are refused without this line", INSTALL_HINT)


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height read from the image's header, without decoding any pixel.

    Only the sniffed type's own Pillow plugin reads the bytes, and no process-wide setting
    (such as ``Image.MAX_IMAGE_PIXELS``) is consulted or changed. None when the header
    cannot be read: decoding then reports what is wrong.
    """
    from PIL import Image

    fmt = PIL_FORMATS.get(kind)
    if fmt is None or (fmt == "HEIF" and not register_heif()):
        return None
    Image.init()
    entry = Image.OPEN.get(fmt)
    if entry is None:  # this Pillow has no such plugin
        return None
    factory, accept = entry
    try:
        if accept is not None and not accept(data[:16]):
            return None
        im = factory(io.BytesIO(data), "")
    except Exception:  # noqa: BLE001 - any failure means "unknown"; decoding says why
        return None
    try:
        width, height = im.size
    finally:
        im.close()
    return int(width), int(height)


def too_many_pixels(name: str, width: int, height: int, limit: int) -> ImageTooLargeError:
    """The 413 for an image above ``limit`` pixels: what the client can do about it.

    The advice for the operator (how to raise the limit) goes to the server's log only.
    """
    scale = math.sqrt(limit / (width * height))
    w, h = max(int(width * scale), 1), max(int(height * scale), 1)
    log.info(
        "refused an image of %dx%d = %d pixels, above max_pixels=%d (to accept larger "
        "images, raise AGEGENDER_MAX_PIXELS or serve(max_pixels=...))",
        width,
        height,
        width * height,
        limit,
    )
    return ImageTooLargeError(
        f"{name}: {width}x{height} = {width * height:,} pixels is above this server's limit "
        f"of {limit:,} pixels; downscale it to at most {w}x{h} (or any size whose width x "
        f"height is at most {limit:,}) and send it again"
    )


class _MultipartLogs(logging.Handler):
    """python-multipart's records, re-logged on ours (prefixed, at DEBUG)."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("python-multipart: %s", record.getMessage())


def route_multipart_logs() -> None:
    """Send python-multipart's log records through our logger instead of the root's.

    Its parser logs a warning for each malformed body; left alone, the root logger's
    last-resort handler would print it unprefixed on stderr for every bad request. The
    client gets a 400 with the reason and the access log has the request, so the
    parser's own words are kept at DEBUG (``agegender.server.uploads``). Idempotent.
    """
    for name in ("python_multipart", "multipart"):
        lg = logging.getLogger(name)
        if not any(isinstance(h, _MultipartLogs) for h in lg.handlers):
            lg.addHandler(_MultipartLogs())
        lg.propagate = False


def parse_multipart(body: bytes, boundary: str, allowed: tuple[str, ...]) -> Upload:
    """The ``image`` (or ``file``) part of a multipart/form-data body, parsed in memory."""
    try:
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:  # pragma: no cover - old package name
        try:
            from multipart.multipart import MultipartParser, parse_options_header  # type: ignore
        except ImportError:
            raise UnsupportedMediaTypeError(
                "multipart uploads need python-multipart on the server; send the image as "
                "the raw body instead (Content-Type: image/jpeg)"
            ) from None
    parts: list[dict[str, object]] = []
    field_name: list[bytes] = []
    field_value: list[bytes] = []

    def on_part_begin() -> None:
        parts.append({"headers": {}, "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field_name.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        field_value.append(data[start:end])

    def on_header_end() -> None:
        headers = parts[-1]["headers"]
        headers[b"".join(field_name).decode("latin-1").lower()] = b"".join(field_value)  # type: ignore[index]
        field_name.clear()
        field_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"] += data[start:end]  # type: ignore[operator]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as e:  # noqa: BLE001 - any parser failure is a malformed body
        raise BadRequestError(f"malformed multipart body ({e})") from None
    files: list[tuple[str, str, dict[str, bytes], bytearray]] = []
    for part in parts:
        headers: dict[str, bytes] = part["headers"]  # type: ignore[assignment]
        _, disp = parse_options_header(headers.get("content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if name in IMAGE_FIELDS or b"filename" in disp:
            filename = disp.get(b"filename", b"").decode("utf-8", "replace").replace("\\", "/")
            files.append((name, filename.rsplit("/", 1)[-1], headers, part["data"]))  # type: ignore[arg-type]
    if len(files) > 1:
        fields = ", ".join(repr(f[0]) for f in files)
        raise BadRequestError(
            f"the form holds {len(files)} files (fields {fields}); send one image per "
            "request, in a field named 'image' (each answer describes one image)"
        )
    if not files or files[0][0] not in IMAGE_FIELDS:
        got = f" (it has a file in the field {files[0][0]!r})" if files else ""
        raise BadRequestError(
            f"no image in the form{got}: send the file in a field named 'image' (or 'file'), "
            "e.g. curl -F image=@photo.jpg"
        )
    _, filename, headers, data = files[0]
    declared, _ = media_type(headers.get("content-type", b"").decode("latin-1"))
    # browsers send "" for unknown extensions; curl sends octet-stream: both are sniffed
    return check_image(
        bytes(data), declared or "application/octet-stream", filename or "upload", allowed
    )

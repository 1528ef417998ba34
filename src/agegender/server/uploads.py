"""Reading an uploaded image into memory: size limits, content types, multipart, sniffing.

Nothing here touches the disk: Starlette's own form parser spools parts above 1 MB to
a temporary file, so multipart bodies are parsed in memory with ``python-multipart``'s
streaming parser instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from .errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

#: Room for multipart boundaries and part headers on top of the image itself.
MULTIPART_OVERHEAD = 64 * 1024
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


@dataclass(frozen=True)
class Upload:
    """An uploaded image, in memory: its bytes, a name for messages, its sniffed type."""

    data: bytes
    name: str
    media_type: str


def sniff(data: bytes) -> str | None:
    """The image type that the first bytes show (JPEG, PNG, GIF, BMP, TIFF, WebP), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
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
            f"the upload is {int(content_length):,} bytes, above the limit of {limit:,}"
        )
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"the upload is above the limit of {limit:,} bytes")
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
            f"{name}: not a recognised image ({len(data):,} bytes); send a JPEG, PNG, WebP, "
            "BMP, GIF or TIFF image"
        )
    return Upload(data=data, name=name, media_type=kind)


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
    for part in parts:
        headers: dict[str, bytes] = part["headers"]  # type: ignore[assignment]
        _, disp = parse_options_header(headers.get("content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if name not in IMAGE_FIELDS:
            continue
        filename = disp.get(b"filename", b"").decode("utf-8", "replace").replace("\\", "/")
        filename = filename.rsplit("/", 1)[-1] or "upload"
        declared, _ = media_type(headers.get("content-type", b"").decode("latin-1"))
        # browsers send "" for unknown extensions; curl sends octet-stream: both are sniffed
        return check_image(
            bytes(part["data"]),  # type: ignore[arg-type]
            declared or "application/octet-stream",
            filename,
            allowed,
        )
    raise BadRequestError(
        "no image in the form: send the file in a field named 'image' (or 'file'), e.g. "
        "curl -F image=@photo.jpg"
    )

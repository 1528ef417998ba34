"""The pixel limit is per call and never touches Pillow's process-wide MAX_IMAGE_PIXELS;
only regular files are read (a FIFO, socket or device is refused at once)."""

from __future__ import annotations

import io
import os
import socket
import struct
import threading
import types
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender.errors import ImageDecodeError, ImageTooLargeError, InputError
from agegender.io.images import decode_image, open_image


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with almost no data: a bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def small_png(seed: int) -> tuple[bytes, np.ndarray]:
    a = np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="PNG")
    return b.getvalue(), a


class _RecordingModule(types.ModuleType):
    """PIL.Image's class during the test: records every attribute set from outside."""

    writes: list[str] = []

    def __setattr__(self, name: str, value: object) -> None:
        type(self).writes.append(name)
        super().__setattr__(name, value)


def test_eight_threads_bombs_and_normal_images_global_untouched(monkeypatch: pytest.MonkeyPatch):
    before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setattr(Image, "__class__", _RecordingModule)
    _RecordingModule.writes = []
    seen_globals: set[object] = set()
    stop = threading.Event()

    def watch() -> None:  # samples the global while the decoders run
        while not stop.is_set():
            seen_globals.add(Image.MAX_IMAGE_PIXELS)

    bombs = [png_header(30_000, 30_000), png_header(12_000, 9_000), png_header(1_000_000, 1_000)]
    normals = [small_png(i) for i in range(4)]

    def job(k: int) -> str:
        kind = k % 4
        if kind == 0:  # a header far above every limit (Pillow's own too)
            try:
                decode_image(bombs[k % len(bombs)])
            except ImageTooLargeError:
                return "refused"
            return "bomb decoded"
        if kind == 1:  # a normal image under a tiny per-call limit: refused for this call only
            try:
                decode_image(normals[k % 4][0], max_pixels=100)
            except ImageTooLargeError:
                return "refused"
            return "limit ignored"
        data, want = normals[k % 4]
        got = decode_image(data)  # the default limit: decoded, whatever other threads asked
        return "decoded" if np.array_equal(got, want) else "wrong pixels"

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(job, range(800)))
    finally:
        stop.set()
        watcher.join()
    assert results.count("refused") == 400
    assert results.count("decoded") == 400
    assert before == Image.MAX_IMAGE_PIXELS
    assert seen_globals == {before}
    assert "MAX_IMAGE_PIXELS" not in _RecordingModule.writes


def test_our_limit_not_capped_by_pillows_global_and_no_warning():
    # 190M pixels is above twice Pillow's default MAX_IMAGE_PIXELS (179M): Image.open would
    # raise DecompressionBombError. Under our own limit of 200M it passes the size check
    # (and then fails as the truncated file it is), without any DecompressionBombWarning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageDecodeError):
            decode_image(png_header(19_000, 10_000), max_pixels=200_000_000)
        opened = open_image(png_header(10_000, 9_500))  # 95M: above Pillow's 89M, under our 100M
    assert (opened.width, opened.height, opened.pixels) == (10_000, 9_500, 95_000_000)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_size_known_before_decoding():
    data, want = small_png(7)
    opened = open_image(data)
    assert opened.pixels == 24 * 32
    assert np.array_equal(opened.decode(), want)
    with pytest.raises(InputError, match="decoded already"):
        opened.decode()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(decode_image, fifo)
        try:
            exc = fut.exception(timeout=10)
        except TimeoutError:  # unblock the reader so the test ends
            with open(fifo, "wb"):
                pass
            pytest.fail("decode_image blocked on a FIFO")
    assert isinstance(exc, InputError) and "FIFO" in str(exc)


def test_socket_and_device_are_refused(tmp_path: Path):
    with pytest.raises(InputError, match="is a device"):
        decode_image("/dev/zero")
    path = tmp_path / "s.jpg"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        with pytest.raises(InputError, match="is a socket"):
            decode_image(path)
    finally:
        s.close()


@pytest.mark.parametrize("bad", ["-5", "0", "lots"])
def test_env_limit_must_be_positive(monkeypatch: pytest.MonkeyPatch, bad: str):
    monkeypatch.setenv("AGEGENDER_MAX_PIXELS", bad)
    with pytest.raises(InputError, match="positive whole number"):
        decode_image(small_png(0)[0])


@pytest.mark.parametrize("data", [b"x", b"x\n", b"\x00\x00", b"BM", b"\x89PNG"])
def test_tiny_files_are_not_images(data: bytes):
    with pytest.raises(ImageDecodeError, match="not a recognised image|truncated|cannot decode"):
        decode_image(data)

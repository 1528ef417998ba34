"""What the browser tests share: Debian's Chromium through Playwright, a server thread that
can be stopped and started again on the same port, pages that record console errors and
requests that leave the server, screenshots kept as test artifacts.

Skips with the reason when Playwright or /usr/bin/chromium is missing (run
``.ci/browser-deps.sh``), except under ``CI``, where that is a failure. Screenshots go to
``tests/server/artifacts/`` (git-ignored) and, when ``AGEGENDER_SCREENSHOTS`` is set, to
that folder too.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
#: name: (width, height, colour scheme)
VIEWPORTS = {"desktop": (1366, 768, "light"), "phone": (390, 844, "dark")}


def need_browser() -> None:
    missing = []
    for module, hint in (
        ("playwright", "pip install playwright"),
        ("uvicorn", "pip install '.[server]'"),
        ("fastapi", "pip install '.[server]'"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module} ({hint})")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (run .ci/browser-deps.sh)")
    if missing:
        why = "browser test needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_y4m(
    photo: Path,
    dest: Path,
    frames: int = 30,
    size: tuple[int, int] = (640, 480),
    jitter: int = 0,
    noise: float = 0.0,
) -> Path:
    """A Y4M (YUV 4:2:0) video of ``photo`` letterboxed to ``size``, ``frames`` frames;
    with ``jitter`` each frame is shifted by up to that many pixels and with ``noise``
    gets Gaussian noise of that standard deviation (a shaky, noisy camera)."""
    import cv2

    w, h = size
    bgr = cv2.imread(str(photo))
    s = min(w / bgr.shape[1], h / bgr.shape[0])
    small = cv2.resize(
        bgr, (round(bgr.shape[1] * s), round(bgr.shape[0] * s)), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((h, w, 3), np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    rng = np.random.default_rng(0)
    with open(dest, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for k in range(frames):
            frame = canvas
            if jitter:
                dx, dy = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
                frame = np.roll(canvas, (dy, dx), axis=(0, 1))
            if noise:
                noisy = frame.astype(np.float32) + rng.normal(0, noise, frame.shape)
                frame = np.clip(noisy, 0, 255).astype(np.uint8)
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
            f.write(b"FRAME\n" + yuv)
            del k
    return dest


class ServerThread:
    """An app served by uvicorn in a background thread; stop() and start() again keep
    the port (to test that the page reconnects). ``make_app()`` builds a fresh app for
    each start (an app's shutdown closes its worker threads)."""

    def __init__(self, make_app: Callable[[], Any], port: int | None = None) -> None:
        self.make_app = make_app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.make_app(), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                pytest.fail("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None


@dataclass
class PageLog:
    """Console errors, page errors and requests that did not go to our server."""

    problems: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def check(self, allow: tuple[str, ...] = ()) -> None:
        """No problem (but those containing one of ``allow``), no foreign request."""
        problems = [p for p in self.problems if not any(a in p for a in allow)]
        assert not problems, problems
        assert not self.foreign, f"the page fetched something not from this server: {self.foreign}"


def open_page(
    browser: Any, base: str, viewport: str, *, touch: bool = False, **context_args: Any
) -> tuple[Any, Any, PageLog]:
    """A new context and page at one of :data:`VIEWPORTS`, recording a :class:`PageLog`."""
    w, h, scheme = VIEWPORTS[viewport]
    scheme = context_args.pop("color_scheme", scheme)
    context = browser.new_context(
        viewport={"width": w, "height": h},
        device_scale_factor=1 if w > 500 else 2,
        color_scheme=scheme,
        has_touch=touch,
        accept_downloads=True,
        **context_args,
    )
    page = context.new_page()
    log = PageLog()
    page.on("pageerror", lambda e: log.problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: log.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on(
        "request",
        lambda r: (
            log.foreign.append(r.url)
            if not r.url.startswith((base, "ws://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    page.goto(base + "/")
    return context, page, log


def save_shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """A screenshot under tests/server/artifacts/ (and $AGEGENDER_SCREENSHOTS)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    extra = os.environ.get("AGEGENDER_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def upload(page: Any, *files: Path, timeout: float = 60_000) -> None:
    """Choose files in the Photo tab; wait until all are done and the first one's result
    is shown (the page opens the first of a batch by itself)."""
    page.set_input_files("#file", [str(f) for f in files])
    page.wait_for_selector(f'#photo-result[data-source="{files[0].name}"]', timeout=timeout)
    if len(files) > 1:
        page.wait_for_selector("#photo-progress", state="hidden", timeout=timeout)

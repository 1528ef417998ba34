"""Server memory under a burst of large uploads: peak RSS, and RSS once the burst is over.

Starts the server in a subprocess on a free 127.0.0.1 port (rate limit off, time limit
raised), waits until its models are loaded, posts one small photo to warm it up and
reads its resident memory (idle). Then ``--clients`` concurrent clients each post one
``--side`` x ``--side`` JPEG (the shared group photo, upscaled) to ``/v1/analyze``, once
per burst; ``--bursts`` bursts, ``--pause`` seconds apart. The server's ``VmRSS`` is
sampled every 50 ms from ``/proc``. Prints, per burst, the peak RSS and the RSS
``--settle`` seconds after the last answer, against the idle level. Every request is
bounded (one per client per burst, 600 s timeout), only 127.0.0.1 is contacted, and the
script stops the server and exits by itself: 0 when every request was answered 200 and
the RSS after the last burst is within ``--max-growth-mb`` of idle, else 1.

Usage::

    PYTHONPATH=src python benchmarks/server_burst.py [--clients 16] [--side 6300] \\
        [--bursts 2] [--json FILE] [-- NAME=VALUE ..., the server's environment, e.g.
        AGEGENDER_MAX_INFLIGHT_PIXELS=1000000000000 for no cap]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import REPO, free_port, rss_kb, shared_dir, wait_ready  # noqa: E402


def big_jpeg(side: int) -> bytes:
    """The shared group photo resized to ``side`` x ``side``, as a JPEG (quality 85)."""
    from PIL import Image

    src = shared_dir() / "data" / "photos" / "group_t1.jpg"
    with Image.open(src) as im:
        big = im.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def start_server(port: int, clients: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["AGEGENDER_RATE_LIMIT"] = "0"
    env["AGEGENDER_MAX_PENDING"] = str(max(32, 2 * clients))
    env["AGEGENDER_REQUEST_TIMEOUT"] = "600"
    mirror = shared_dir() / "models"
    if "AGEGENDER_MIRROR" not in env and mirror.is_dir():
        env["AGEGENDER_MIRROR"] = str(mirror)  # as benchmarks/load.py: YuNet by default
    env.update(extra_env)
    cmd = [sys.executable, "-m", "agegender", "serve", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=REPO)


class Sampler:
    """Samples a process's VmRSS (kB) every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_kb(self.pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_since(self, t0: float) -> int:
        return max((kb for t, kb in self.samples if t >= t0), default=0)


async def burst(base: str, data: bytes, clients: int) -> list[str]:
    """One request per client, all at once; the errors (empty when all were 200)."""
    import httpx

    errors: list[str] = []

    async def one(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            try:
                r = await c.post("/v1/analyze", files={"image": (f"big{i}.jpg", data, "image/jpeg")})
                if r.status_code != 200:
                    errors.append(f"client {i}: HTTP {r.status_code} {r.text[:160]}")
            except httpx.HTTPError as e:
                errors.append(f"client {i}: {type(e).__name__}: {e}")

    await asyncio.gather(*(one(i) for i in range(clients)))
    return errors


async def warm(base: str) -> None:
    import httpx

    photo = (shared_dir() / "data" / "photos" / "astronaut.png").read_bytes()
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        r = await c.post("/v1/analyze", files={"image": ("a.png", photo, "image/png")})
        if r.status_code != 200:
            raise SystemExit(f"warm-up request failed: HTTP {r.status_code} {r.text[:200]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--side", type=int, default=6300, help="the JPEG's width and height")
    p.add_argument("--bursts", type=int, default=2)
    p.add_argument("--pause", type=float, default=3.0, help="seconds between bursts")
    p.add_argument("--settle", type=float, default=3.0, help="seconds after a burst to read RSS")
    p.add_argument("--max-growth-mb", type=float, default=300.0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("env", nargs="*", help="NAME=VALUE settings for the server's environment")
    a = p.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in a.env)
    data = big_jpeg(a.side)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, a.clients, extra)
    bursts: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        asyncio.run(wait_ready(base, proc))
        asyncio.run(warm(base))
        time.sleep(a.settle)
        idle = rss_kb(proc.pid)
        with Sampler(proc.pid) as sampler:
            for _ in range(a.bursts):
                t0 = time.monotonic()
                errors += asyncio.run(burst(base, data, a.clients))
                took = time.monotonic() - t0
                time.sleep(a.settle)
                bursts.append(
                    {
                        "seconds": round(took, 1),
                        "peak_mb": round(sampler.peak_since(t0) / 1024, 1),
                        "after_mb": round(rss_kb(proc.pid) / 1024, 1),
                    }
                )
                time.sleep(max(a.pause - a.settle, 0.0))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = {
        "clients": a.clients,
        "image": f"{a.side}x{a.side} JPEG, {len(data):,} bytes",
        "server_env": extra,
        "idle_mb": round(idle / 1024, 1),
        "bursts": bursts,
        "errors": len(errors),
        "error_samples": errors[:5],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(f"idle RSS {result['idle_mb']} MB; {result['image']}; {a.clients} clients per burst")
    for i, b in enumerate(bursts, 1):
        print(
            f"burst {i}: {b['seconds']} s, peak {b['peak_mb']} MB, "
            f"after {b['after_mb']} MB ({b['after_mb'] - result['idle_mb']:+.1f} MB over idle)"
        )
    print(f"errors: {len(errors)}" + (f" e.g. {errors[0]}" if errors else ""))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    grown = bursts[-1]["after_mb"] - result["idle_mb"] if bursts else 0.0
    return 0 if not errors and grown <= a.max_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())

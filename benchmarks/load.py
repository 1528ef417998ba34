"""Load test of the REST API: N concurrent clients posting the shared photos for T seconds.

Starts the server in a subprocess on a free 127.0.0.1 port (rate limit off, queue bound
raised for the run), waits until its models are loaded, warms it up with one request of
each photo, then runs ``--clients`` concurrent clients (one ``httpx.AsyncClient``
connection each) that post the photos round-robin to ``/v1/analyze`` until
``--seconds`` have passed. Reports requests/s, latency percentiles, errors and the
server's resident memory (``VmRSS`` from ``/proc``) before and after, plus its peak
(``VmHWM``). Exits 1 if any request failed (non-200, a wrong face count, a transport
error).

Usage::

    PYTHONPATH=src python benchmarks/load.py [--clients 16] [--seconds 30] \\
        [--photos DIR] [--json FILE]

The model mirror (``$AGEGENDER_MIRROR``, else ``../shared/models``) is handed to the
server when present, so the default detector is YuNet as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("AGEGENDER_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of a process in kB, from /proc/PID/status (0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_server(port: int, clients: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["AGEGENDER_RATE_LIMIT"] = "0"  # off for the run
    env["AGEGENDER_MAX_PENDING"] = str(max(32, 4 * clients))
    env["AGEGENDER_REQUEST_TIMEOUT"] = "120"
    mirror = shared_dir() / "models"
    if "AGEGENDER_MIRROR" not in env and mirror.is_dir():
        env["AGEGENDER_MIRROR"] = str(mirror)
    cmd = [sys.executable, "-m", "agegender", "serve", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=REPO)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with code {proc.returncode}")
            try:
                r = await c.get("/healthz")
                if r.status_code == 200 and r.json().get("models_loaded"):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


async def run_load(
    base: str,
    photos: list[tuple[str, bytes, int]],
    clients: int,
    seconds: float,
    *,
    warm_up: bool = False,
) -> dict[str, Any]:
    """Post photos from ``clients`` concurrent clients for ``seconds``; the figures.

    With ``warm_up``, post each photo once instead (and report only errors).
    """
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = 0

    async def post(c: httpx.AsyncClient, i: int) -> None:
        name, data, want = photos[i % len(photos)]
        t0 = time.perf_counter()
        try:
            kind = "image/png" if name.lower().endswith(".png") else "image/jpeg"
            r = await c.post("/v1/analyze", files={"image": (name, data, kind)})
            ok = r.status_code == 200 and len(r.json()["faces"]) == want
            if not ok:
                errors.append(f"{name}: HTTP {r.status_code} {r.text[:120]}")
        except httpx.HTTPError as e:
            errors.append(f"{name}: {type(e).__name__}: {e}")
        latencies.append(time.perf_counter() - t0)

    async def client(deadline: float) -> None:
        nonlocal counter
        async with httpx.AsyncClient(base_url=base, timeout=180) as c:
            while time.monotonic() < deadline:
                counter += 1
                await post(c, counter)

    if warm_up:  # each photo once, not counted
        async with httpx.AsyncClient(base_url=base, timeout=180) as c:
            for i in range(len(photos)):
                await post(c, i)
        return {"errors": len(errors), "error_samples": errors[:5]}
    t0 = time.monotonic()
    await asyncio.gather(*(client(t0 + seconds) for _ in range(clients)))
    wall = time.monotonic() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "requests": len(latencies),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(q[49] * 1000, 1) if q else None,
        "p90_ms": round(q[89] * 1000, 1) if q else None,
        "p99_ms": round(q[98] * 1000, 1) if q else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--photos", type=Path, default=None, help="default: SHARED/data/photos")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args(argv)
    folder = a.photos or shared_dir() / "data" / "photos"
    files = sorted(f for f in folder.glob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise SystemExit(f"no photos in {folder}; pass --photos DIR")
    sys.path.insert(0, str(REPO / "src"))
    from agegender import Analyzer  # expected face counts, computed once here

    os.environ.setdefault("AGEGENDER_MIRROR", str(shared_dir() / "models"))
    an = Analyzer()
    photos = [(f.name, f.read_bytes(), len(an.analyze(f.read_bytes()))) for f in files]
    del an

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, a.clients)
    try:
        asyncio.run(wait_ready(base, proc))
        warm = asyncio.run(run_load(base, photos, 1, 0, warm_up=True))
        rss_start = rss_kb(proc.pid)  # models loaded and run once
        result = asyncio.run(run_load(base, photos, a.clients, a.seconds))
        result["errors"] += warm["errors"]
        result["error_samples"] = (warm["error_samples"] + result["error_samples"])[:5]
        rss_end = rss_kb(proc.pid)
        peak = rss_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    result.update(
        clients=a.clients,
        seconds=a.seconds,
        photos=[f"{n} ({k} faces)" for n, _, k in photos],
        rss_start_mb=round(rss_start / 1024, 1),
        rss_end_mb=round(rss_end / 1024, 1),
        rss_peak_mb=round(peak / 1024, 1),
        cpus=os.cpu_count(),
        machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
        python=platform.python_version(),
    )
    lines = [
        f"{result['clients']} clients x {result['seconds']:g} s on {result['cpus']} CPUs, "
        f"photos: {', '.join(result['photos'])}",
        f"requests: {result['requests']}  ({result['requests_per_s']} req/s)",
        f"latency ms: p50 {result['p50_ms']}  p90 {result['p90_ms']}  p99 {result['p99_ms']}  "
        f"max {result['max_ms']}",
        f"errors: {result['errors']}",
        f"server RSS MB: after warm-up {result['rss_start_mb']}  end {result['rss_end_mb']}  "
        f"peak {result['rss_peak_mb']}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    for e in result["error_samples"]:
        sys.stdout.write(f"  error: {e}\n")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

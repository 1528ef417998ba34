"""The local engine: a pool of worker processes on this machine, each holding one Analyzer.

The main process lists nothing and decodes nothing: it hands each worker chunks of inputs
(paths or URIs) over a pipe, at most four chunks queued each, and writes the rows that come back.
Workers are started with ``forkserver`` (``spawn`` where that is missing), never forked
from a process that has loaded onnxruntime.

Faults: a worker that dies (killed, out of memory, a crash in a decoder) is replaced. The
inputs of its chunk that had not come back are retried one by one on the other workers;
an input that was being analyzed when a worker died twice becomes an error row
(``WorkerDiedError``) instead of killing workers forever.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ..errors import AgeGenderError
from .inputs import Item
from .rows import error_rows
from .work import Rows, WorkerSpec, analyze_items, worker_models

log = logging.getLogger(__name__)

#: chunks queued per worker (paths only: keeps it busy when the main process is slow to
#: get the CPU, and bounds what is pending)
AHEAD = 4
#: workers that die before they are ready, in a row, before the run gives up
MAX_START_FAILURES = 3


def _worker_main(conn: Connection, spec: WorkerSpec, log_level: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops us
    logging.basicConfig(level=log_level, format="agegender (worker): %(message)s")
    try:
        _work(conn, spec)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        # the main process is gone (killed, or it stopped the run): nothing to report to,
        # and no traceback for the user; exit quietly
        return


def _work(conn: Connection, spec: WorkerSpec) -> None:
    try:
        analyzer = spec.build()
    except BaseException as e:  # noqa: BLE001 - reported to the main process, which raises it
        try:
            conn.send(("fatal", e))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:  # noqa: BLE001 - the exception itself may not pickle
            conn.send(("fatal", AgeGenderError(f"a worker could not start: {type(e).__name__}: {e}")))
        return
    conn.send(("ready", worker_models(analyzer)))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the main process is gone
            return
        if msg is None:  # done: say how much CPU this worker used, then exit
            import resource

            ru = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(("bye", ru.ru_utime + ru.ru_stime))
            return
        cid, pairs = msg
        conn.send(("start", cid))
        order = iter(i for i, _ in pairs)
        for _it, rows in analyze_items(analyzer, [it for _, it in pairs], spec.batch_size):
            conn.send(("rows", cid, next(order), rows))
        conn.send(("end", cid))


@dataclass
class _Chunk:
    cid: int
    idx: list[int]
    started: bool = False


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    ready: bool = False
    chunks: dict[int, _Chunk] = field(default_factory=dict)


class WorkerDiedError(AgeGenderError):
    """An input during which worker processes died repeatedly (a crash, or out of memory)."""


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def run_local(
    items: list[Item],
    spec: WorkerSpec,
    *,
    workers: int,
    on_rows: Callable[[Item, Rows], None],
    on_models: Callable[[list[dict[str, Any]]], None],
    max_tries: int = 2,
) -> float:
    """Analyze ``items`` on ``workers`` processes; ``on_rows`` gets every input's rows once.

    Returns the CPU seconds the workers used (those that lived to the end)."""
    if not items:
        return 0.0
    ctx = _context()
    level = logging.getLogger("agegender").getEffectiveLevel()
    done = bytearray(len(items))
    n_done = 0
    tries: dict[int, int] = {}
    fresh = iter(range(0, len(items), spec.batch_size))
    retry: deque[list[int]] = deque()
    pool: list[_Worker] = []
    next_cid = 0
    start_failures = 0
    models_sent = False

    def start() -> _Worker:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child, spec, level), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def next_chunk() -> list[int] | None:
        while retry:
            c = [i for i in retry.popleft() if not done[i]]
            if c:
                return c
        for s in fresh:
            c = [i for i in range(s, min(s + spec.batch_size, len(items))) if not done[i]]
            if c:
                return c
        return None

    def finish(i: int, rows: Rows) -> None:
        nonlocal n_done
        if not done[i]:
            done[i] = 1
            n_done += 1
            on_rows(items[i], rows)

    def handle(w: _Worker, msg: tuple[Any, ...]) -> None:
        nonlocal models_sent, start_failures
        kind = msg[0]
        if kind == "ready":
            w.ready, start_failures = True, 0
            if not models_sent:
                on_models(msg[1])
                models_sent = True
        elif kind == "fatal":
            raise msg[1]
        elif kind == "start":
            w.chunks[msg[1]].started = True
        elif kind == "rows":
            finish(msg[2], msg[3])
        elif kind == "end":
            w.chunks.pop(msg[1], None)

    def bury(w: _Worker) -> None:
        """A worker died: retry or fail what it held, and start another."""
        nonlocal start_failures
        w.proc.join(timeout=5)
        code = w.proc.exitcode
        w.conn.close()
        if not w.ready:
            start_failures += 1
            if start_failures >= MAX_START_FAILURES:
                raise AgeGenderError(
                    f"batch: {start_failures} worker processes in a row died while loading the "
                    f"models (exit code {code}); run `agegender analyze` on one image to see why"
                )
        for ch in w.chunks.values():
            left = [i for i in ch.idx if not done[i]]
            if not ch.started:
                retry.appendleft(left)
                continue
            for i in left:
                tries[i] = tries.get(i, 0) + 1
                if tries[i] >= max_tries:
                    finish(i, error_rows(items[i], WorkerDiedError.__name__, (
                        f"{items[i].source}: a worker process died (exit code {code}) while "
                        f"analyzing this input, {tries[i]} times; it may crash the decoder or "
                        "need more memory than a worker has")))
                else:
                    retry.appendleft([i])
        log.warning("batch: a worker process died (exit code %s); starting another", code)
        pool[pool.index(w)] = start()

    def receive(w: _Worker) -> bool:
        """Handle every waiting message; False when the worker is gone."""
        try:
            while w.conn.poll():
                handle(w, w.conn.recv())
        except (EOFError, OSError):
            return False
        return w.proc.is_alive() or w.conn.poll()

    finished = False
    try:
        pool.extend(start() for _ in range(max(1, workers)))
        while True:
            for w in pool:
                while w.ready and len(w.chunks) < AHEAD:
                    c = next_chunk()
                    if c is None:
                        break
                    cid, next_cid = next_cid, next_cid + 1
                    w.chunks[cid] = _Chunk(cid, c)
                    w.conn.send((cid, [(i, items[i]) for i in c]))
            if n_done == len(items):
                finished = True
                break
            ready = wait([w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=1.0)
            for w in list(pool):
                woke = w.conn in ready or w.proc.sentinel in ready or not w.proc.is_alive()
                if woke and not receive(w):
                    bury(w)
    finally:
        cpu = _stop(pool, graceful=finished)
    return cpu


def _stop(pool: list[_Worker], graceful: bool) -> float:
    """Ask the workers to exit (all work done), or terminate them (an error, Ctrl-C);
    the CPU seconds that the workers which exited in order report."""
    for w in pool:
        with contextlib.suppress(OSError, ValueError):
            w.conn.send(None) if graceful else w.proc.terminate()
    deadline = time.monotonic() + 10
    cpu = 0.0
    for w in pool:
        with contextlib.suppress(OSError, EOFError):
            while graceful and w.conn.poll(max(0.1, deadline - time.monotonic())):
                msg = w.conn.recv()
                if msg[0] == "bye":
                    cpu += float(msg[1])
                    break
        w.proc.join(timeout=max(0.1, deadline - time.monotonic()))
        if w.proc.is_alive():
            w.proc.terminate()
            w.proc.join(timeout=5)
        w.conn.close()
    return cpu

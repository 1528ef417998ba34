"""onnxruntime settings for every network this process runs: providers by device, the
intra-op thread count, and the sessions (one per file, providers and threads).

A low module (base layer), so that detectors, estimators and ``agegender batch`` set and read
the same settings without importing one another. onnxruntime is imported on first use.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .errors import ModelError

_SESSION_THREADS: int | None = None
#: One onnxruntime session per (file, providers, threads).
_SESSIONS: dict[tuple[str, tuple[str, ...], int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def default_providers(device: str = "auto") -> list[str]:
    """onnxruntime providers for ``device``: ``cpu``, ``cuda``, ``auto`` (CUDA if present)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("cuda", "gpu"):
        if "CUDAExecutionProvider" not in have:
            raise ModelError(
                "device 'cuda' was asked for, but this onnxruntime has no CUDA provider; "
                "pip install onnxruntime-gpu (and a CUDA driver), or use --device cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise ModelError(f"unknown device {device!r}; use auto, cpu or cuda")
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


def set_session_threads(n: int | None) -> None:
    """Intra-op threads of the onnxruntime sessions this process creates from now on.

    ``None`` (the default) uses one thread per core this process may use. ``agegender batch``
    sets it in each worker process so that workers x threads = cores.
    """
    global _SESSION_THREADS
    _SESSION_THREADS = None if n is None else max(1, int(n))


def session_threads() -> int | None:
    """The value set by :func:`set_session_threads` (``None``: not set)."""
    return _SESSION_THREADS


def session_options() -> Any:
    """onnxruntime ``SessionOptions`` with our settings: no spinning, sequential, the set
    (or the usable cores') intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # idle worker threads must not spin: on few cores they starve detection
    # (measured 2.4x slower video on 2 cores with spinning on)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # measured on 2 shared cores (benchmarks/quantize.py, the FaceRes graph alone, four
    # runs): one intra-op thread per usable core is 1.1-1.8x faster than one thread at 8-32
    # faces a batch (less the busier the machine) and ties at 1; the parallel executor (2
    # inter-op threads) is 1.2-1.9x slower; spinning gains nothing
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if _SESSION_THREADS is not None:
        opts.intra_op_num_threads = _SESSION_THREADS
    elif hasattr(os, "sched_getaffinity"):  # the cores this process may use
        opts.intra_op_num_threads = len(os.sched_getaffinity(0))
    return opts


def shared_session(path: Any, providers: list[str]) -> Any:
    """The process's one session for ``path`` with ``providers`` (made on first use)."""
    import onnxruntime as ort

    key = (str(path), tuple(providers), _SESSION_THREADS)
    with _SESSIONS_LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            sess = _SESSIONS[key] = ort.InferenceSession(str(path), session_options(),
                                                         providers=providers)
    return sess

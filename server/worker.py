"""The engine process of one device: engines run there, not in the server process.

Some engine stages hold the GIL for seconds (pocketsphinx decodes a whole clip in one call), which
would freeze every HTTP request in a thread-based server, cancel requests included. A child process
per device keeps the server answering; it also keeps a native crash from taking the server down.
Engines are built on first use in the child and stay warm there.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import Cancelled, MouthpieceError

AUDIO = "audio.npy"
TRACK = "track.npz"
POLL_SECONDS = 0.05

Outcome = tuple[str, str, str | None]
"""(state: done|failed|cancelled, message, traceback text for the log or None)"""


class EngineProcess:
    """Parent-side handle: sends one job at a time, relays progress and cancel, restarts after a crash."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._ctx = multiprocessing.get_context("spawn")  # CUDA needs spawn; fork with threads is unsafe
        self._proc: Any = None
        self._conn: Connection | None = None
        self._cancel: Any = None
        self.loaded: list[str] = []
        """Engines built (and kept warm) in the child, as it last reported."""

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        if self._conn is not None:
            self._conn.close()
        self.loaded = []
        parent, child = self._ctx.Pipe()
        self._cancel = self._ctx.Event()
        self._proc = self._ctx.Process(
            target=_child_main,
            args=(self.device, child, self._cancel),
            name=f"mouthpiece-engines-{self.device}",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent

    def run(
        self,
        job_dir: Path,
        params: dict[str, Any],
        max_transcript_chars: int,
        progress: Callable[[float, str], None],
        cancelled: Callable[[], bool],
    ) -> Outcome:
        """Run one job in the child; ``cancelled()`` is polled and forwarded while it runs."""
        self._ensure_started()
        proc, conn, cancel = self._proc, self._conn, self._cancel  # stop() may clear the attributes
        assert conn is not None
        cancel.clear()
        conn.send((str(job_dir), params, max_transcript_chars))
        while True:
            if cancelled():
                cancel.set()
            try:
                message = conn.recv() if conn.poll(POLL_SECONDS) else None
            except (EOFError, OSError):
                message = None
            if message is None:
                if proc.is_alive():
                    continue
                conn.close()
                self._proc = None
                return (
                    "failed",
                    f"the engine process stopped (exit code {proc.exitcode}) while running this job; "
                    "the server starts a new one for the next job",
                    None,
                )
            if message[0] == "progress":
                progress(message[1], message[2])
                continue
            if message[0] == "loaded":
                self.loaded = list(message[1])
                continue
            return message

    def stop(self, timeout: float) -> None:
        """Ask the child to exit; kill it if it does not within ``timeout`` seconds."""
        if self._proc is None:
            return
        if self._cancel is not None:
            self._cancel.set()
        try:
            if self._conn is not None:
                self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._proc = None


def _child_main(device: str, conn: Connection, cancel: Any) -> None:
    """The child's loop: one job at a time, engines built once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when this process ends
    from server.engine_pool import EnginePool

    pool = EnginePool(device)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        job_dir, params, max_transcript_chars = request
        outcome = _run_job(pool, Path(job_dir), params, max_transcript_chars, conn, cancel)
        conn.send(("loaded", pool.loaded()))
        conn.send(outcome)


def _run_job(
    pool: Any, job_dir: Path, params: dict[str, Any], max_chars: int, conn: Connection, cancel: Any
) -> Outcome:
    from server.schemas import JobParams, engine_options

    try:
        job_params = JobParams.model_validate(params)
        engine = pool.get(job_params.engine)
        options = engine_options(job_params, engine, max_chars)
        audio = np.load(job_dir / AUDIO, allow_pickle=False)
        track = engine.run(audio, options, lambda f, m: conn.send(("progress", float(f), str(m))), cancel)
        tmp = job_dir / (TRACK + ".part")
        with open(tmp, "wb") as fh:
            track.to_npz(fh)
        os.replace(tmp, job_dir / TRACK)
        return "done", f"done: {track.num_frames} frames at {track.fps:g} fps", None
    except Cancelled:
        return "cancelled", "cancelled while running", None
    except MouthpieceError as exc:
        return "failed", str(exc), None
    except Exception as exc:
        message = f"internal error ({type(exc).__name__}: {exc}); the server log has details"
        return "failed", message, traceback.format_exc()

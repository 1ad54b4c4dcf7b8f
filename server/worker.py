"""The engine process of one device: engines run there, not in the server process.

Some engine stages hold the GIL for seconds (pocketsphinx decodes a whole clip in one call), which
would freeze every HTTP request in a thread-based server, cancel requests included. A child process
per device keeps the server answering; it also keeps a native crash from taking the server down.
Engines, and the neural renderer, are built on first use in the child and stay warm there.
"""

from __future__ import annotations

import functools
import multiprocessing
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.atomic import atomic_path
from core.errors import Cancelled, MouthpieceError

AUDIO = "audio.npy"
TRACK = "track.npz"
INPUT_TRACK = "input.npz"
PORTRAIT = "portrait.npy"
VIDEO = "video.mp4"
POLL_SECONDS = 0.05
CANCEL_GRACE_SECONDS = 10.0
"""How long a cancelled job's engine may take to stop before it is killed."""
STARTUP_GRACE_SECONDS = 120.0
"""Extra quiet time allowed before a job's first message: the engine may be starting and loading weights."""

Outcome = tuple[Literal["done", "failed", "cancelled"], str, str | None]
"""(state: done|failed|cancelled, message, traceback text for the log or None)"""


def worker_context(settings: Any) -> dict[str, Any]:
    """What the engine process needs from the server's settings (plain values: it crosses a pipe)."""
    return {
        "max_transcript_chars": settings.max_transcript_chars,
        "renderer_checkpoint": str(settings.renderer_checkpoint_path()),
        "renderer_config": None if settings.renderer_config is None else str(settings.renderer_config),
        "sadtalker_weights": str(settings.sadtalker_weights_path()),
    }


class EngineProcess:
    """Parent-side handle: sends one job at a time, relays progress and cancel, restarts after a crash."""

    def __init__(self, device: str, context: dict[str, Any], stall_seconds: float = 600.0) -> None:
        self.device = device
        self.context = context
        self.stall_seconds = stall_seconds
        """A job whose engine sends nothing for this long is failed and the engine process replaced."""
        self._last_heard: float | None = None
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

    def quiet_seconds(self) -> float | None:
        """Seconds since the engine last reported on the job it runs (None before its first report)."""
        heard = self._last_heard
        return None if heard is None else time.monotonic() - heard

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
            args=(self.device, self.context, child, self._cancel),
            name=f"mouthpiece-engines-{self.device}",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent

    def run(
        self,
        job_dir: Path,
        kind: str,
        params: dict[str, Any],
        progress: Callable[[float, str], None],
        cancelled: Callable[[], bool],
    ) -> Outcome:
        """Run one job (``kind`` animate or render) in the child; ``cancelled()`` is polled and forwarded."""
        self._ensure_started()
        proc, conn, cancel = self._proc, self._conn, self._cancel  # stop() may clear the attributes
        assert conn is not None
        cancel.clear()
        conn.send((str(job_dir), kind, params))
        sent = time.monotonic()
        cancelled_at: float | None = None
        try:
            while True:
                if cancelled() and cancelled_at is None:
                    cancel.set()
                    cancelled_at = time.monotonic()
                try:
                    message = conn.recv() if conn.poll(POLL_SECONDS) else None
                except (EOFError, OSError):
                    message = None
                if message is None:
                    if not proc.is_alive():
                        conn.close()
                        self._proc = None
                        return (
                            "failed",
                            f"the engine process stopped (exit code {proc.exitcode}) while running this job; "
                            "the server starts a new one for the next job",
                            None,
                        )
                    now = time.monotonic()
                    if cancelled_at is not None and now - cancelled_at > CANCEL_GRACE_SECONDS:
                        self._kill(proc)
                        return "cancelled", "cancelled; the engine did not stop, so it was replaced", None
                    heard = self._last_heard
                    quiet = now - sent - STARTUP_GRACE_SECONDS if heard is None else now - heard
                    if quiet > self.stall_seconds:
                        self._kill(proc)
                        return (
                            "failed",
                            f"the engine made no progress for {self.stall_seconds:g} s and was stopped; "
                            "the server starts a new one for the next job",
                            None,
                        )
                    continue
                self._last_heard = time.monotonic()
                if message[0] == "progress":
                    progress(message[1], message[2])
                    continue
                if message[0] == "loaded":
                    self.loaded = list(message[1])
                    continue
                return message
        finally:
            self._last_heard = None

    def _kill(self, proc: Any) -> None:
        """Kill a hung engine process (SIGKILL works on a stopped one too); the next job starts another."""
        proc.kill()
        proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = None

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


def _child_main(device: str, context: dict[str, Any], conn: Connection, cancel: Any) -> None:
    """The child's loop: one job at a time, engines and renderer built once."""
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
        job_dir, kind, params = request
        run = _render if kind == "render" else _animate
        outcome = _guarded(run, pool, context, Path(job_dir), params, conn, cancel)
        renderer = ["renderer"] if _renderer.cache_info().currsize else []
        conn.send(("loaded", pool.loaded() + renderer))
        conn.send(outcome)


def _animate(
    pool: Any, context: dict[str, Any], job_dir: Path, params: dict[str, Any], conn: Connection, cancel: Any
) -> str:
    from core.pipeline import animate
    from server.schemas import JobParams, animate_request

    job_params = JobParams.model_validate(params)
    engine = pool.get(job_params.engine)
    request = animate_request(job_params, engine, context["max_transcript_chars"])
    track = animate(
        engine,
        np.load(job_dir / AUDIO, allow_pickle=False),
        request,
        lambda fraction, message: conn.send(("progress", float(fraction), str(message))),
        cancel,
        posevae_weights=context["sadtalker_weights"],
        posevae_device=pool.device_for("sadtalker"),
    )
    with atomic_path(job_dir / TRACK) as tmp:
        track.to_npz(tmp)
    return f"done: {track.num_frames} frames at {track.fps:g} fps"


@functools.lru_cache(maxsize=1)
def _renderer(checkpoint: str, mtime: float, config: str | None, device: str) -> Any:
    """The renderer, loaded once per (file, version, config, device) and kept warm."""
    from core.render.pipeline import load_default_renderer

    return load_default_renderer(checkpoint, config, device)


def _render(
    pool: Any, context: dict[str, Any], job_dir: Path, params: dict[str, Any], conn: Connection, cancel: Any
) -> str:
    from core.errors import ModelMissingError
    from core.model_files import RENDERER
    from core.render.pipeline import render_video
    from core.track import Track
    from server.schemas import RenderParams

    render = RenderParams.model_validate(params)
    checkpoint = Path(context["renderer_checkpoint"])
    if not checkpoint.is_file():
        raise ModelMissingError(RENDERER.missing_message(checkpoint))
    conn.send(("progress", 0.0, "loading the renderer"))
    net = _renderer(str(checkpoint), checkpoint.stat().st_mtime, context["renderer_config"], pool.device)
    audio_file = job_dir / AUDIO
    result = render_video(
        Track.from_npz(job_dir / INPUT_TRACK),
        np.load(job_dir / PORTRAIT, allow_pickle=False),
        np.load(audio_file, allow_pickle=False) if audio_file.is_file() else None,
        job_dir / VIDEO,
        batch=render.batch,
        progress=lambda f, m: conn.send(("progress", float(f), str(m))),
        cancel=cancel,
        net=net,
        fps=render.fps,
    )
    return f"done: {result.frames} frames at {result.fps:g} fps, {result.device}, batch {result.batch}"


def _guarded(run: Callable[..., str], *args: Any) -> Outcome:
    """Run a job function; its exceptions become the job's outcome."""
    try:
        return "done", run(*args), None
    except Cancelled:
        return "cancelled", "cancelled while running", None
    except MouthpieceError as exc:
        return "failed", str(exc), None
    except Exception as exc:
        message = f"internal error ({type(exc).__name__}: {exc}); the server log has details"
        return "failed", message, traceback.format_exc()

"""One dialogue line → one track, in a worker process or a Ray actor, through the animate pipeline.

The task carries everything the worker needs (the audio's bytes, the line's arguments and request), so
workers need no access to the driver's files.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from dataclasses import dataclass
from typing import Any

from core.errors import MouthpieceError
from core.pipeline import AnimateRequest


@dataclass(frozen=True)
class LineTask:
    """What a worker needs for one line."""

    index: int
    id: str
    audio: bytes
    audio_name: str
    args: argparse.Namespace
    """the `animate` arguments of this line (batch defaults overridden by the manifest): which engine, where"""
    request: AnimateRequest
    """what to animate, built by the driver from ``args``"""


@dataclass(frozen=True)
class LineOutcome:
    """A worker's answer: the track, or the one-line reason there is none."""

    index: int
    id: str
    track: Any  # core.track.Track | None
    error: str | None
    wall_s: float


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread pools of the numeric libraries a worker loads after it starts."""


class LineAnimator:
    """Animates lines; builds each engine (and loads its models) once, on first use, then keeps it.

    ``threads`` caps torch's threads, and those of the math libraries not loaded yet, in this process.
    """

    def __init__(self, threads: int | None = None) -> None:
        if threads:
            os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
            if importlib.util.find_spec("torch") is not None:
                import torch

                torch.set_num_threads(threads)
        self._engines: dict[str, Any] = {}

    def __call__(self, task: LineTask) -> LineOutcome:
        start = time.perf_counter()
        try:
            track, error = self._animate(task), None
        except MouthpieceError as exc:
            track, error = None, str(exc)
        except Exception as exc:
            track, error = None, f"internal error ({type(exc).__name__}: {exc})"
        return LineOutcome(task.index, task.id, track, error, time.perf_counter() - start)

    def _animate(self, task: LineTask) -> Any:
        from core.audio import decode_audio
        from core.pipeline import animate

        audio = decode_audio(task.audio, task.audio_name)
        return animate(self._engine(task.args), audio, task.request, posevae_device=task.args.device)

    def _engine(self, args: argparse.Namespace) -> Any:
        from core.engines import get_engine

        if args.engine not in self._engines:
            self._engines[args.engine] = get_engine(
                args.engine,
                model_dir=args.model_dir,
                checkpoint=args.checkpoint,
                model_config=args.model_config,
                device=args.device,
            )
        return self._engines[args.engine]


_ANIMATOR: LineAnimator | None = None


def start_worker(threads: int) -> None:
    """Process-pool initializer: Ctrl-C is the driver's to handle; one animator per process."""
    import signal

    global _ANIMATOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ANIMATOR = LineAnimator(threads)


def animate_in_worker(task: LineTask) -> LineOutcome:
    """Process-pool task: this process's animator on one line."""
    assert _ANIMATOR is not None, "start_worker was not run in this process"
    return _ANIMATOR(task)

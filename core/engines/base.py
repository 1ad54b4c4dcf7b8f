"""The one engine interface of DESIGN §4."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from core.arkit import EMOTIONS
from core.errors import Cancelled, InputError
from core.track import Track

ProgressFn = Callable[[float, str], None]
"""progress(fraction 0..1, message)"""
Loudness = Literal["absolute", "clip"]
LOUDNESS_MODES: tuple[Loudness, ...] = ("absolute", "clip")
"""``extra["loudness"]`` of an engine that offers it: "absolute" scales the mouth by the clip's level
against a speech reference (a shouted line opens wider than a whispered one); "clip" normalises each
clip to its own level."""


def check_loudness(value: object) -> Loudness:
    """``value`` as a loudness mode; :class:`InputError` naming the choices otherwise."""
    if value not in LOUDNESS_MODES:
        raise InputError(f"loudness must be one of {', '.join(LOUDNESS_MODES)}, not {value!r}")
    return value


def check_loudness_offered(loudness: str, engine: str, info: dict[str, Any], option: str) -> None:
    """Refuse a loudness other than the default for an engine whose description (``info``) offers none
    (``option`` names the setting as the caller's user knows it)."""
    if loudness != "absolute" and "loudness" not in info.get("extra", {}):
        raise InputError(
            f"engine '{engine}' has no loudness option (its mouth follows its own model); leave {option} out"
        )


@dataclass
class EngineOptions:
    """Options every engine understands; engine-specific ones go in ``extra``.

    ``emotion_keys`` is an optional time-varying emotion: a list of (seconds, emotion, intensity),
    overriding ``emotion``/``intensity`` where given. ``fps`` is the rate the take is wanted at: an engine
    may compute at it directly (the builtin engine does) or return its native rate, which
    :func:`core.pipeline.animate` then resamples.
    """

    emotion: str = "neutral"
    intensity: float = 0.5
    style: str | None = None
    seed: int = 0
    transcript: str | None = None
    fps: float | None = None
    emotion_keys: list[tuple[float, str, float]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.emotion not in EMOTIONS:
            raise InputError(f"unknown emotion '{self.emotion}'; choose one of: {', '.join(EMOTIONS)}")
        if not 0.0 <= float(self.intensity) <= 1.0:
            raise InputError(f"intensity must be between 0 and 1, got {self.intensity}")
        if self.fps is not None and not 1.0 <= float(self.fps) <= 240.0:
            raise InputError(f"fps must be between 1 and 240, got {self.fps}")
        for key in self.emotion_keys or []:
            t, emo, inten = key
            if emo not in EMOTIONS:
                raise InputError(f"unknown emotion '{emo}' in emotion keys")
            if not 0.0 <= float(inten) <= 1.0 or float(t) < 0:
                raise InputError(f"emotion key {key}: time must be ≥ 0 and intensity in 0..1")


class Engine(Protocol):
    """An audio-to-track engine."""

    name: str
    rig: str
    native_fps: float

    def status(self) -> tuple[bool, str]:
        """(ready, message): whether weights/assets are present, and where to put them if not."""
        ...

    def describe(self) -> dict[str, Any]:
        """Options for UIs: emotions, styles/identities, native fps."""
        ...

    def run(
        self,
        audio: np.ndarray,
        options: EngineOptions,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Track:
        """Animate 16 kHz mono float32 audio."""
        ...


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` when the flag is set (call between chunks)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")

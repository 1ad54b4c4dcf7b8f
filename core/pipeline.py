"""The one animate pipeline: engine → SadTalker head motion → requested frame rate → FLAME check → rig.

The server's worker, ``mouthpiece animate``, ``blend`` and ``batch`` all run :func:`animate` with an
:class:`AnimateRequest`, built from the server's job params (:meth:`AnimateRequest.from_params`) or the
command line's arguments (:meth:`AnimateRequest.from_args`). Engines return their native rate (the builtin
engine computes at ``EngineOptions.fps`` directly); the resampling to the requested rate happens here,
once. Torch-free at import: torch loads only with the engine or PoseVAE that needs it.
"""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.engines.base import Engine, EngineOptions, Loudness, ProgressFn, check_cancel, check_loudness
from core.errors import InputError, ModelMissingError
from core.head_motion import (
    HEAD_MOTIONS,
    HeadMotion,
    adds_posevae,
    engine_moves_head,
    parse_pose_style,
    pose_style_applies,
)
from core.track import Track

HEAD_MOTION_SHARE = 0.9
"""Share of the progress bar the engine fills when PoseVAE's head motion follows it."""
RETARGET_AT = 0.95
"""Progress when the retargeting starts."""
_SAME_IN_PARAMS = (
    "engine", "emotion", "intensity", "seed", "style", "identity", "transcript", "fps", "blinks", "eye_motion",
    "pose_style", "rig", "loudness",
)  # fmt: skip
"""Fields of the server's ``JobParams`` that the request takes as they are."""


@dataclass(frozen=True)
class AnimateRequest:
    """What to animate and how; checked when built (:class:`InputError` with a one-line reason)."""

    engine: str = "builtin"
    emotion: str = "neutral"
    intensity: float = 0.5
    seed: int = 0
    style: str | None = None
    identity: str | int | None = None
    transcript: str | None = None
    fps: float | None = None
    """the take's frame rate; None keeps the engine's native rate"""
    blinks: bool = True
    eye_motion: bool = True
    head_motion: HeadMotion = "engine"
    pose_style: int | None = None
    """PoseVAE's pose style, with head motion "sadtalker" or the sadtalker engine (default 0)"""
    rig: str | None = None
    """retarget the take onto this rig; None keeps the engine's own"""
    phonemes: list[int] | None = None
    """30 fps phoneme indices (StyleTalk), instead of finding them in the audio"""
    emotion_keys: list[tuple[float, str, float]] | None = None
    loudness: Loudness = "absolute"
    """the builtin engine's mouth scale: the clip's absolute level, or each clip normalised to its own"""
    extras: dict[str, Any] = field(default_factory=dict)
    """engine-specific options (``EngineOptions.extra``); the fields above take precedence"""

    def __post_init__(self) -> None:
        if self.head_motion not in HEAD_MOTIONS:
            raise InputError(f"head motion must be one of {', '.join(HEAD_MOTIONS)}, not {self.head_motion!r}")
        if self.pose_style is not None:
            if not pose_style_applies(self.engine, self.head_motion):
                raise InputError("a pose style applies to SadTalker head motion or the sadtalker engine only")
            parse_pose_style(self.pose_style)
        check_loudness(self.loudness)
        self.options()  # emotion, intensity, fps and the emotion keys are checked there

    @property
    def adds_posevae(self) -> bool:
        """Whether SadTalker's PoseVAE head motion replaces the engine's (an engine other than sadtalker)."""
        return adds_posevae(self.engine, self.head_motion)

    def options(self) -> EngineOptions:
        """The engine's options: another engine keeps the head still where PoseVAE's motion replaces it."""
        extra: dict[str, Any] = {
            **self.extras,
            "blinks": self.blinks,
            "head_motion": engine_moves_head(self.engine, self.head_motion),
            "eye_motion": self.eye_motion,
        }
        if self.loudness != "absolute":  # only an engine with a loudness option gets here (the default)
            extra["loudness"] = self.loudness
        if self.pose_style is not None and not self.adds_posevae:
            extra["pose_style"] = self.pose_style
        if self.identity is not None:
            extra["identity"] = self.identity
        if self.phonemes is not None:
            extra["phonemes"] = self.phonemes
        return EngineOptions(
            emotion=self.emotion,
            intensity=self.intensity,
            style=self.style,
            seed=self.seed,
            transcript=self.transcript or None,
            fps=self.fps,
            emotion_keys=list(self.emotion_keys) if self.emotion_keys else None,
            extra=extra,
        )

    @classmethod
    def from_params(cls, params: Any) -> AnimateRequest:
        """The request of the server's validated ``JobParams`` (most fields have the same names)."""
        return cls(
            **{name: getattr(params, name) for name in _SAME_IN_PARAMS},
            head_motion=params.head_motion_source,
            emotion_keys=[tuple(key) for key in params.emotion_keys] if params.emotion_keys else None,
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace, **fields: Any) -> AnimateRequest:
        """The request of the command line's engine arguments (text as typed; messages name the flags).

        ``--fps``, ``--rig`` and ``--phonemes`` are read where the command has them; ``fields`` replace
        what the arguments say (``blend`` animates at the native rate on the engine's own rig).
        """
        if args.pose_style is not None and not pose_style_applies(args.engine, args.head_motion):
            raise InputError("--pose-style only applies with --head-motion sadtalker")
        fps, phonemes = getattr(args, "fps", None), getattr(args, "phonemes", None)
        identity = args.identity
        request = cls(
            engine=args.engine,
            emotion=args.emotion,
            intensity=_number(args.intensity, "intensity"),
            seed=_seed(args.seed),
            style=args.style,
            identity=int(identity) if identity is not None and identity.isdigit() else identity,
            transcript=read_transcript(args),
            fps=None if fps is None else _number(fps, "fps"),
            blinks=not args.no_blinks,
            eye_motion=not args.no_eye_motion,
            head_motion=args.head_motion,
            pose_style=None if args.pose_style is None else parse_pose_style(args.pose_style),
            rig=getattr(args, "rig", None),
            loudness=args.loudness,
            phonemes=None if phonemes is None else read_phonemes(phonemes),
        )
        return replace(request, **fields) if fields else request


def animate(
    engine: Engine,
    audio: np.ndarray,
    request: AnimateRequest,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    *,
    posevae_weights: str | Path | None = None,
    posevae_device: str = "cpu",
) -> Track:
    """Animate 16 kHz mono ``audio`` with ``engine`` as ``request`` says; raises :class:`Cancelled` when
    ``cancel`` is set between steps.

    ``posevae_weights`` (default: the models folder's release file) and ``posevae_device`` serve
    SadTalker head motion. Rigs and weights that a step needs are checked before the engine runs.
    """
    report = progress or (lambda fraction, message: None)
    if request.rig is not None:
        from core.retarget import check_rigs

        check_rigs(engine.rig, request.rig)
    check_head_motion(request, posevae_weights)
    share = HEAD_MOTION_SHARE if request.adds_posevae else 1.0
    track = engine.run(audio, request.options(), lambda f, m: report(f * share, m), cancel)
    if request.adds_posevae:
        from core.engines.sadtalker.headmotion import add_head_motion

        check_cancel(cancel)
        report(HEAD_MOTION_SHARE, "adding SadTalker head motion")
        style = request.pose_style or 0
        track = add_head_motion(track, audio, style, request.seed, posevae_weights, posevae_device)
    if request.fps is not None and track.fps != float(request.fps):
        from core.resample import resample

        check_cancel(cancel)
        track = resample(track, request.fps)
    warning = flame_version_warning(track)
    if warning is not None:
        track.meta["warnings"] = [*track.meta.get("warnings", []), warning]
    if request.rig is not None and request.rig != track.rig:
        from core.retarget import retarget

        check_cancel(cancel)
        report(RETARGET_AT, f"retargeting onto the {request.rig} rig")
        track = retarget(track, request.rig)
    check_cancel(cancel)
    return track


def flame_version_warning(track: Track) -> str | None:
    """The warning when the engine's parameters belong to another FLAME than the imported one, else None."""
    expects = track.meta.get("expects_flame")
    if not expects:
        return None
    from core.rigs import load_rig

    try:
        version = load_rig("flame").meta.get("version")
    except ModelMissingError:  # not imported: nothing to compare (a retarget says what to do)
        return None
    if not version or expects == f"FLAME {version}":
        return None
    return f"this engine's parameters belong to {expects}, but the imported FLAME is {version}"


def check_head_motion(request: AnimateRequest, posevae_weights: str | Path | None = None) -> None:
    """Fail before any engine runs when SadTalker head motion is asked for and its weights are absent."""
    if not request.adds_posevae:
        return
    from core.model_files import SADTALKER

    weights = Path(posevae_weights) if posevae_weights else SADTALKER.default_path()
    if not weights.is_file():
        raise ModelMissingError(SADTALKER.missing_message(weights))


def _number(value: Any, name: str, kind: type = float) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"--{name} must be a {'whole ' if kind is int else ''}number, got '{value}'") from None


def _seed(value: Any) -> int:
    """--seed as the server takes it: a whole number 0..2³¹-1."""
    seed = _number(value, "seed", int)
    if not 0 <= seed < 2**31:
        raise InputError(f"--seed must be a whole number from 0 to {2**31 - 1}, got {seed}")
    return int(seed)


def read_transcript(args: argparse.Namespace) -> str | None:
    """``--transcript``, or the UTF-8 text of ``--transcript-file``."""
    if args.transcript_file is None:
        return args.transcript
    if not args.transcript_file.is_file():
        raise InputError(f"transcript file not found: {args.transcript_file}")
    try:
        return args.transcript_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{args.transcript_file.name}: the transcript must be UTF-8 text") from None


PHONEME_FILE_BYTES_PER_FRAME = 16
"""A phoneme file larger than this per frame of the longest clip is refused before it is parsed."""


def read_phonemes(path: Path) -> list[int]:
    """``--phonemes``: a JSON list of 30 fps phoneme indices, as long as a clip may be (MAX_SECONDS)."""
    from core.audio import MAX_SECONDS
    from core.phonetics.segments import STYLETALK_FPS

    if not path.is_file():
        raise InputError(f"phoneme file not found: {path}")
    longest = int(MAX_SECONDS * STYLETALK_FPS)
    if path.stat().st_size > PHONEME_FILE_BYTES_PER_FRAME * longest:
        raise InputError(f"{path.name}: too large for a phoneme list of at most {MAX_SECONDS:g} s (split the clip)")
    try:
        seq = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path.name}: not a JSON list of phoneme indices") from None
    if not isinstance(seq, list) or not seq or not all(isinstance(i, int) and i >= 0 for i in seq):
        raise InputError(f"{path.name}: expected a non-empty JSON list of phoneme indices (whole numbers ≥ 0)")
    if len(seq) > longest:
        raise InputError(
            f"{path.name}: {len(seq)} phoneme frames are {len(seq) / STYLETALK_FPS:.0f} s at 30 fps, "
            f"longer than the limit of {MAX_SECONDS:g} s (split the clip)"
        )
    return seq

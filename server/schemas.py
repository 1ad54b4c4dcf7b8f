"""Request and response bodies of the HTTP API, and the checks that tie job params to an engine."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from core.arkit import EMOTIONS
from core.engines import ENGINES, Engine, EngineOptions
from core.engines.base import Loudness, check_loudness_offered
from core.errors import InputError
from core.head_motion import POSE_STYLES, HeadMotion, adds_posevae, pose_style_applies
from core.pipeline import AnimateRequest

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,127}")
JobState = Literal["queued", "running", "done", "failed", "cancelled"]
JobKind = Literal["animate", "render"]
MAX_KEY_SECONDS = 86_400.0
"""Latest emotion key time (a day: clips are minutes)."""
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _safe_name(kind: str, value: str) -> str:
    if not SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(
            f"{kind} {value!r} is not a valid name; names are up to 128 letters, digits, spaces, "
            "'-', '_' and '.', without '..' or slashes (ask GET /v1/models for the names an engine offers)"
        )
    return value


class JobParams(BaseModel):
    """The ``params`` JSON of ``POST /v1/jobs``."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(
        "builtin", max_length=64, description="see GET /v1/models", json_schema_extra={"enum": list(ENGINES)}
    )
    emotion: str = Field("neutral", json_schema_extra={"enum": list(EMOTIONS)})
    intensity: float = Field(0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    style: str | None = Field(None, description="engine-specific style name, see GET /v1/models")
    seed: int = Field(0, ge=0, le=2**31 - 1, strict=True)
    transcript: str | None = Field(None, description="what is said, for forced alignment")
    fps: float | None = Field(
        None, ge=1.0, le=240.0, allow_inf_nan=False, description="output frame rate; engine's native if absent"
    )
    emotion_keys: list[tuple[Finite, str, Finite]] | None = Field(
        None, max_length=1000, description="time-varying emotion: [seconds, emotion, intensity] keys"
    )
    blinks: StrictBool = True
    head_motion: bool | Literal["sadtalker"] = Field(
        True,
        description="true: the engine's own head motion; false: a still head; \"sadtalker\": SadTalker's PoseVAE "
        "head motion from the audio replaces the engine's (see pose_style)",
    )
    pose_style: int | None = Field(
        None, ge=0, le=POSE_STYLES - 1, strict=True, description="PoseVAE pose style 0..45 (head_motion sadtalker)"
    )
    eye_motion: StrictBool = True
    loudness: Loudness = Field(
        "absolute",
        description="builtin engine: absolute opens the mouth wider for a louder recording (a shout wider than "
        "a whisper); clip normalises every clip to its own level",
    )
    identity: str | int | None = Field(None, description="engine-specific speaker identity (name or index)")
    rig: Literal["arkit", "flame", "bfm"] | None = Field(
        None,
        description="retarget the take onto this rig (arkit: any ARKit-named character); the engine's own if absent",
    )

    @field_validator("head_motion", mode="before")
    @classmethod
    def _head_motion_choice(cls, value: Any) -> Any:
        if value is True or value is False or value == "sadtalker":
            return value
        raise ValueError(f'must be true, false or "sadtalker", not {json.dumps(value)}')

    @field_validator("emotion")
    @classmethod
    def _known_emotion(cls, value: str) -> str:
        if value not in EMOTIONS:
            raise ValueError(f"unknown emotion {value!r}; choose one of: {', '.join(EMOTIONS)}")
        return value

    @field_validator("style")
    @classmethod
    def _style_name(cls, value: str | None) -> str | None:
        return None if value is None else _safe_name("style", value)

    @field_validator("identity")
    @classmethod
    def _identity_name(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, str):
            return _safe_name("identity", value)
        if isinstance(value, int) and value < 0:
            raise ValueError("identity index must be ≥ 0")
        return value

    @model_validator(mode="after")
    def _pose_style_needs_posevae(self) -> JobParams:
        if self.pose_style is not None and not pose_style_applies(self.engine, self.head_motion_source):
            raise ValueError('pose_style applies to head_motion "sadtalker" or the sadtalker engine; else leave it out')
        return self

    @property
    def head_motion_source(self) -> HeadMotion:
        """``head_motion`` in the pipeline's words: true → "engine", false → "none", "sadtalker"."""
        return "sadtalker" if self.head_motion == "sadtalker" else "engine" if self.head_motion else "none"

    @property
    def sadtalker_head(self) -> bool:
        """Whether PoseVAE's head motion is added after an engine that is not SadTalker itself."""
        return adds_posevae(self.engine, self.head_motion_source)

    @field_validator("emotion_keys")
    @classmethod
    def _keys(cls, value: list[tuple[float, str, float]] | None) -> list[tuple[float, str, float]] | None:
        for t, emotion, intensity in value or []:
            if emotion not in EMOTIONS:
                raise ValueError(f"unknown emotion {emotion!r} in emotion_keys; choose one of: {', '.join(EMOTIONS)}")
            if not 0.0 <= t <= MAX_KEY_SECONDS or not 0.0 <= intensity <= 1.0:
                raise ValueError(
                    f"emotion key ({t}, {emotion}, {intensity}): time must be ≥ 0 (at most {MAX_KEY_SECONDS:g} s) "
                    "and intensity 0..1"
                )
        return value


class RenderParams(BaseModel):
    """The ``params`` JSON of ``POST /v1/renders`` (the renderer's weights are the server's choice)."""

    model_config = ConfigDict(extra="forbid")

    fps: float = Field(
        30.0, ge=1.0, le=120.0, allow_inf_nan=False, description="video frame rate (the track is resampled to it)"
    )
    batch: int | None = Field(
        None, ge=1, le=256, strict=True, description="frames per forward pass; sized to memory if absent"
    )


@overload
def parse_params(text: str, model: type[JobParams] = ...) -> JobParams: ...
@overload
def parse_params(text: str, model: type[RenderParams]) -> RenderParams: ...
def parse_params(text: str, model: type[JobParams | RenderParams] = JobParams) -> JobParams | RenderParams:
    """Parse a ``params`` form field, turning any problem into one readable :class:`InputError`."""
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise InputError(f"params is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise InputError("params is not valid JSON (nested too deeply)") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise InputError("params is not valid JSON (a number in it has thousands of digits)") from None
    if not isinstance(raw, dict):
        example = '{"engine": "builtin", "emotion": "happy"}' if model is JobParams else '{"fps": 30}'
        raise InputError(f"params must be a JSON object, e.g. {example}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"invalid params: {describe_errors(exc.errors(), model)}") from None


def describe_errors(errors: list[Any], model: type[BaseModel] = JobParams) -> str:
    """pydantic/FastAPI validation errors as one sentence."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = f"unknown parameter (allowed: {', '.join(model.model_fields)})"
        elif err.get("type") == "missing":
            msg = "this field is required"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def _names(entries: Any) -> list[str]:
    """Names from a describe() list of strings or of dicts with a ``name``."""
    out = []
    for entry in entries or []:
        out.append(str(entry["name"]) if isinstance(entry, dict) and "name" in entry else str(entry))
    return out


def engine_options(params: JobParams, engine: Engine, max_transcript_chars: int) -> EngineOptions:
    """Check ``params`` against what ``engine`` offers and build its :class:`EngineOptions`."""
    return animate_request(params, engine, max_transcript_chars).options()


def animate_request(params: JobParams, engine: Engine, max_transcript_chars: int) -> AnimateRequest:
    """Check ``params`` against what ``engine`` offers and build the pipeline's request."""
    info = engine.describe()
    name = params.engine
    emotions = _names(info.get("emotions")) or list(EMOTIONS)
    if params.emotion not in emotions:
        raise InputError(f"engine '{name}' has no emotion '{params.emotion}'; choose one of: {', '.join(emotions)}")
    styles = _names(info.get("styles"))
    if params.style is not None and params.style not in styles:
        offer = f"choose one of: {', '.join(styles)}" if styles else "it takes no style; leave style out"
        raise InputError(f"engine '{name}' has no style '{params.style}'; {offer}")
    identities = _names(info.get("identities"))
    if params.identity is not None:
        known = params.identity in identities if isinstance(params.identity, str) else params.identity < len(identities)
        if not known:
            offer = (
                f"choose a name or an index below {len(identities)}: {', '.join(identities)}"
                if identities
                else "it takes no identity; leave identity out"
            )
            raise InputError(f"engine '{name}' has no identity {params.identity!r}; {offer}")
    check_loudness_offered(params.loudness, name, info, "loudness")
    if params.transcript is not None and len(params.transcript) > max_transcript_chars:
        raise InputError(
            f"the transcript has {len(params.transcript)} characters; the limit is {max_transcript_chars} "
            "(send the words of this clip only)"
        )
    return AnimateRequest.from_params(params)


class JobCreated(BaseModel):
    id: str
    state: JobState
    url: str


class JobStatus(BaseModel):
    id: str
    kind: JobKind = Field("animate", description="animate: audio → track; render: track + portrait → video")
    state: JobState
    progress: float = Field(ge=0.0, le=1.0)
    message: str
    engine: str
    audio_seconds: float
    created: float
    started: float | None
    finished: float | None
    queue_position: int | None = Field(None, description="jobs ahead of this one while queued")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    """``degraded`` when a worker has stopped or an engine has gone quiet; ``problems`` says which."""
    problems: list[str] = []
    version: str
    device: str
    engines_loaded: list[str]
    queue_depth: int
    running: int
    limits: dict[str, int | float]


class EngineReport(BaseModel):
    name: str
    installed: bool
    ready: bool
    message: str
    rig: str | None = None
    native_fps: float | None = None
    device: str
    loaded: bool
    options: dict[str, Any] = Field(default_factory=dict)


class RendererReport(BaseModel):
    name: Literal["pirender"] = "pirender"
    ready: bool = Field(description="whether the renderer's weights are present")
    message: str = Field(description="where the weights are, or where to put them")
    checkpoint: str
    image_size: int | None = Field(None, description="portrait size the renderer works at, when known")
    rig: Literal["bfm"] = "bfm"


class HeadMotionReport(BaseModel):
    name: Literal["sadtalker"] = "sadtalker"
    ready: bool = Field(description="whether SadTalker's PoseVAE weights are present")
    message: str
    pose_styles: int = POSE_STYLES


class ModelsReport(BaseModel):
    engines: list[EngineReport]
    renderer: RendererReport | None = None
    head_motion: HeadMotionReport | None = None

"""The HTTP side of neural renders: what the renderer needs, checked before a render job is queued."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import InputError, ModelMissingError, MouthpieceError
from core.model_files import RENDERER, SADTALKER
from core.render.config_file import read_model_config
from core.render.portrait import load_portrait
from core.track import Track
from server.schemas import HeadMotionReport, RendererReport
from server.settings import Settings

DEFAULT_IMAGE_SIZE = 256


def check_renderer(settings: Settings) -> Path:
    """The renderer checkpoint; :class:`ModelMissingError` (409) saying where it goes when absent."""
    path = settings.renderer_checkpoint_path()
    if not path.is_file():
        raise ModelMissingError(RENDERER.missing_message(path))
    return path


def image_size(settings: Settings) -> int:
    """The portrait size the renderer works at: the config file's ``image_size``, else 256."""
    data = read_model_config(settings.renderer_config)
    config = data.get("config")
    body = config if isinstance(config, dict) else data
    size = body.get("image_size", data.get("image_size", DEFAULT_IMAGE_SIZE))
    if isinstance(size, list | tuple):
        size = size[0]
    if isinstance(size, bool) or not isinstance(size, int):
        raise InputError(f"renderer config {settings.renderer_config}: image_size must be a whole number")
    return size


def renderer_report(settings: Settings) -> RendererReport:
    path = settings.renderer_checkpoint_path()
    ready = path.is_file()
    try:
        size: int | None = image_size(settings)
    except MouthpieceError:
        size = None
    message = f"weights: {path}" if ready else RENDERER.missing_message(path)
    return RendererReport(ready=ready, message=message, checkpoint=str(path), image_size=size)


def head_motion_report(settings: Settings) -> HeadMotionReport:
    path = settings.sadtalker_weights_path()
    ready = path.is_file()
    return HeadMotionReport(ready=ready, message=f"weights: {path}" if ready else SADTALKER.missing_message(path))


def check_head_motion(settings: Settings) -> None:
    """Refuse ``head_motion: "sadtalker"`` up front when PoseVAE's weights are absent."""
    report = head_motion_report(settings)
    if not report.ready:
        raise ModelMissingError(report.message)


def read_track(data: bytes, name: str) -> Track:
    """A track upload: the .npz or JSON wire form."""
    if not data:
        raise InputError(f"{name} is empty; upload a track file (.npz or .json)")
    try:
        if data[:4] == b"PK\x03\x04":  # an .npz is a zip archive
            return Track.from_npz(data)
        return Track.from_json(data)
    except MouthpieceError as exc:
        raise InputError(f"{name}: {exc}") from None
    except (ValueError, KeyError, TypeError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} is not a Mouthpiece track (.npz or .json): {exc}") from None


def check_renderable(track: Track, max_seconds: float) -> None:
    """Only bfm tracks, not longer than the server's clip limit."""
    if track.rig != "bfm":
        engine = track.meta.get("engine")
        made = f" (made by the {engine} engine)" if engine else ""
        raise InputError(
            f"only bfm tracks drive the portrait renderer; this track is for the '{track.rig}' rig{made}: "
            "animate the clip with the styletalk or sadtalker engine"
        )
    if track.num_frames == 0:
        raise InputError("the track has no frames to render")
    if track.duration > max_seconds:
        raise InputError(
            f"the track is {track.duration:.1f} s long; the limit is {max_seconds:g} s "
            "(render a shorter take, or restart the server with a larger --max-audio-seconds)"
        )


def read_portrait(data: bytes, name: str, size: int) -> np.ndarray:
    """The portrait upload, centre-cropped and resized to ``size``² RGB (400/415 with the renderer's words)."""
    if not data:
        raise InputError(f"{name} is empty; upload a PNG or JPEG portrait")
    return load_portrait(data, size, name=name)

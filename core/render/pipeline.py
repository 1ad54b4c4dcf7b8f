"""Track + portrait + audio → talking-portrait mp4, in batches, with progress and a cancel flag.

Safe to call from a worker thread: no global state; ``cancel`` is checked between batches and a cancelled
or failed render leaves no file at ``out`` (frames go to a temporary file beside it, renamed at the end).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.audio import load_audio
from core.engines.base import ProgressFn, check_cancel
from core.errors import InputError, ModelMissingError
from core.model_files import RENDERER
from core.render.loader import load_renderer
from core.render.model import FaceGenerator
from core.render.portrait import load_portrait, to_model_input
from core.render.video import Mp4Writer
from core.render.windows import RENDER_FPS, coefficient_windows, track_coefficients
from core.torch_device import resolve_device
from core.track import Track

CPU_BATCH = 2
MAX_BATCH = 64
BYTES_PER_FRAME_256 = 200 * 2**20
"""Activation memory of one 256² frame, rounded up (CPU peak RSS grows ~176 MiB a frame: ``bench render``)."""


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int
    fps: float
    batch: int
    device: str

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def auto_batch(device: torch.device, image_size: int) -> int:
    """Frames per forward pass: a quarter of the free GPU memory, or a small fixed batch on the CPU."""
    if device.type != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    per_frame = BYTES_PER_FRAME_256 * (image_size / 256) ** 2
    return int(max(1, min(MAX_BATCH, free // 4 // per_frame)))


def load_default_renderer(
    checkpoint: str | Path | None = None, model_config: str | Path | None = None, device: str = "cpu"
) -> FaceGenerator:
    """The renderer from ``checkpoint`` (default: the models folder's); a clear error when absent."""
    path = Path(checkpoint) if checkpoint else RENDERER.default_path()
    if not path.is_file():
        raise ModelMissingError(RENDERER.missing_message(path))
    return load_renderer(path, model_config, resolve_device(device))


def _as_track(track: Track | str | Path) -> Track:
    if isinstance(track, Track):
        return track
    from core.adapters import import_track

    return import_track(track)


def _as_audio(audio: np.ndarray | str | Path | None) -> np.ndarray | None:
    if audio is None or isinstance(audio, np.ndarray):
        return audio
    return load_audio(audio)


def render_video(
    track: Track | str | Path,
    image: str | Path | bytes | np.ndarray,
    audio: np.ndarray | str | Path | None,
    out: str | Path,
    device: str = "cpu",
    batch: int | None = None,
    progress: ProgressFn | None = None,
    *,
    cancel: threading.Event | None = None,
    net: FaceGenerator | None = None,
    checkpoint: str | Path | None = None,
    model_config: str | Path | None = None,
    fps: float = RENDER_FPS,
) -> RenderResult:
    """Render ``track`` (a bfm Track or a track file) on ``image`` to an H.264 mp4 at ``out``.

    ``audio`` is 16 kHz mono float32, an audio file, or None for a silent video. ``net`` is an already
    loaded renderer (its device wins over ``device``); otherwise ``checkpoint``/``model_config`` are loaded.
    ``batch`` frames go through the network at once (default: sized to the device's memory).
    """
    report = progress or (lambda _f, _m: None)
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"the video is written as .mp4, not '{out.name}'")
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    if batch is not None and batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    coeffs = track_coefficients(_as_track(track), fps)
    sound = _as_audio(audio)
    report(0.0, "loading the renderer")
    if net is None:
        net = load_default_renderer(checkpoint, model_config, device)
    cfg = net.cfg
    if coeffs.shape[1] != cfg.coeff_nc:
        raise InputError(f"the renderer takes {cfg.coeff_nc} coefficients per frame, the track gives {coeffs.shape[1]}")
    dev = next(net.parameters()).device
    source = torch.from_numpy(to_model_input(load_portrait(image, cfg.image_size))).to(dev)
    step = batch or auto_batch(dev, cfg.image_size)
    total = len(coeffs)
    tmp = out.with_name(f".{out.stem}.partial.mp4")
    try:
        with Mp4Writer(tmp, fps, cfg.image_size, sound) as writer, torch.inference_mode():
            for start in range(0, total, step):
                check_cancel(cancel)
                stop = min(start + step, total)
                windows = coefficient_windows(coeffs, range(start, stop), cfg.semantic_radius)
                writer.write(to_uint8(net(source, torch.from_numpy(windows).to(dev))["fake_image"]))
                report(stop / total * 0.99, f"rendered {stop}/{total} frames")
        check_cancel(cancel)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    report(1.0, "done")
    return RenderResult(path=out, frames=total, fps=fps, batch=step, device=str(dev))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) tanh output → (N, H, W, 3) uint8 as the demo does: clamp, then truncate (not round)."""
    return ((images.clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

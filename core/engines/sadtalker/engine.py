"""The `sadtalker` engine: audio → ExpNet expression + PoseVAE head pose on the BFM rig at 25 fps.

Options (``EngineOptions.extra``): ``pose_style`` (0..45, default 0), ``head_motion`` (default True;
False keeps the head frontal and skips PoseVAE), ``blinks`` (default True: SadTalker's random blink
schedule, seeded), ``blink_ratio`` (a number ≥ 0 scaling that schedule, or a list with one eye-closure
ratio per 25 fps frame), ``ref_exp`` (64 expression coefficients of the face at rest; default zeros, the
BFM mean face). ``seed`` fixes the blinks and PoseVAE's latents.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.adapters.bfm_pose import BFM_EXP_CHANNELS, coeffs_to_track
from core.audio import SAMPLE_RATE
from core.engines.base import EngineOptions, ProgressFn, check_cancel
from core.engines.sadtalker.audio import FPS, mel_windows
from core.errors import InputError, ModelMissingError
from core.head_motion import POSE_STYLES, parse_pose_style
from core.model_files import SADTALKER
from core.track import Track

if TYPE_CHECKING:
    from core.engines.sadtalker.expnet import ExpNet
    from core.engines.sadtalker.posevae import PoseVAENet

BLINK = (0.5, 0.9, 1.0, 0.9, 0.5)  # eye-closure ratio over a blink's five frames


def blink_schedule(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(T,) SadTalker's random blinks (``generate_blink_seq_randomly``): a gap of 10..min(T/2, 70)−1
    frames, then a five-frame blink, until the clip ends; none for clips of 20 frames or fewer."""
    ratio = np.zeros(num_frames, dtype=np.float32)
    low, high = min(10, num_frames), min(num_frames // 2, 70)
    if num_frames <= 20 or high <= low:
        return ratio
    frame = 0
    while True:
        start = frame + int(rng.integers(low, high))
        if start + len(BLINK) > num_frames - 1:
            return ratio
        ratio[start : start + len(BLINK)] = BLINK
        frame = start + len(BLINK)


def blink_ratio(num_frames: int, extra: dict[str, Any], seed: int) -> np.ndarray:
    """The (T,) blink input from ``blinks`` / ``blink_ratio``."""
    value = extra.get("blink_ratio", 1.0)
    if isinstance(value, (list, tuple, np.ndarray)):
        ratio = np.asarray(value, dtype=np.float32)
        if ratio.shape != (num_frames,) or not np.isfinite(ratio).all():
            raise InputError(f"blink_ratio as a list needs one finite number per 25 fps frame ({num_frames})")
        return ratio
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise InputError(f"blink_ratio must be a number or a list of numbers, got {value!r}") from None
    if not (np.isfinite(scale) and scale >= 0):
        raise InputError(f"blink_ratio must be ≥ 0, got {value!r}")
    if not extra.get("blinks", True):
        return np.zeros(num_frames, dtype=np.float32)
    return blink_schedule(num_frames, np.random.default_rng(seed % 2**32)) * scale


def reference_expression(extra: dict[str, Any]) -> np.ndarray:
    dims = len(BFM_EXP_CHANNELS)
    ref = np.asarray(extra.get("ref_exp", np.zeros(dims)), dtype=np.float32)
    if ref.shape != (dims,) or not np.isfinite(ref).all():
        raise InputError(f"ref_exp must be {dims} finite expression coefficients")
    return ref


class SadTalkerEngine:
    """SadTalker (CVPR 2023): ExpNet expression and PoseVAE head motion from audio, on the BFM 3DMM."""

    name = "sadtalker"
    rig = "bfm"
    native_fps = float(FPS)

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        checkpoint: str | Path | None = None,
        model_config: str | Path | None = None,
        device: str = "cpu",
    ) -> None:
        if checkpoint:
            self.weights = Path(checkpoint)
        else:
            self.weights = Path(model_dir) / SADTALKER.name if model_dir else SADTALKER.default_path()
        self.device = device
        self._expnet: ExpNet | None = None
        self._posevae: PoseVAENet | None = None

    def status(self) -> tuple[bool, str]:
        if self.weights.is_file():
            return True, f"weights: {self.weights}"
        return False, SADTALKER.missing_message(self.weights)

    def describe(self) -> dict[str, Any]:
        return {
            "rig": self.rig,
            "native_fps": self.native_fps,
            "emotions": [],
            "styles": [],
            "pose_styles": list(range(POSE_STYLES)),
            "extra": {"pose_style": 0, "head_motion": True, "blinks": True, "blink_ratio": 1.0},
            "outputs": "BFM expression exp00..exp63, head rotation (axis-angle) and translation",
        }

    def nets(self, head_motion: bool) -> tuple[ExpNet, PoseVAENet | None]:
        ready, message = self.status()
        if not ready:
            raise ModelMissingError(message)
        from core.engines.sadtalker.loader import load_expnet, load_posevae

        if self._expnet is None:
            self._expnet = load_expnet(self.weights, self.device)
        if head_motion and self._posevae is None:
            self._posevae = load_posevae(self.weights, self.device)
        return self._expnet, self._posevae if head_motion else None

    def run(
        self,
        audio: np.ndarray,
        options: EngineOptions,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Track:
        report = progress or (lambda _f, _m: None)
        if audio is None:
            raise InputError("SadTalker animates audio: give a 16 kHz mono clip")
        extra = options.extra
        head_motion = bool(extra.get("head_motion", True))
        pose_style = parse_pose_style(extra.get("pose_style", 0))
        ref_exp = reference_expression(extra)
        expnet, posevae = self.nets(head_motion)
        from core.engines.sadtalker.posevae import check_frames, predict_pose

        report(0.05, "mel spectrogram")
        mels = mel_windows(np.asarray(audio, dtype=np.float32))
        t = check_frames(mels.shape[0])
        ratio = blink_ratio(t, extra, int(options.seed))
        check_cancel(cancel)
        report(0.2, "expression")
        exp = predict_expression(expnet, mels, ref_exp, ratio)
        check_cancel(cancel)
        meta = {
            "engine": self.name,
            "model": self.weights.name,
            "seed": int(options.seed),
            "audio_duration": len(audio) / SAMPLE_RATE,
            "blinks": bool(ratio.any()),
            "warnings": [],
        }
        if posevae is not None:
            report(0.6, "head motion")
            pose = predict_pose(posevae, mels, pose_style, int(options.seed))
            meta["pose_style"] = pose_style
            track = coeffs_to_track(np.concatenate([exp, pose], axis=1), FPS, meta)
        else:
            track = Track(fps=FPS, rig=self.rig, channels=list(BFM_EXP_CHANNELS), values=exp, meta=meta)
        report(1.0, "done")
        return track


def predict_expression(net: ExpNet, mels: np.ndarray, ref_exp: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(T, 80, 16) mel windows, (64,) reference expression, (T,) blink ratio → (T, 64) expression."""
    import torch

    device = next(net.parameters()).device
    t = mels.shape[0]
    with torch.inference_mode():
        out = net(
            torch.from_numpy(mels)[:, None].to(device),
            torch.from_numpy(ref_exp)[None].expand(t, -1).to(device),
            torch.from_numpy(np.ascontiguousarray(ratio, dtype=np.float32))[:, None].to(device),
        )
    return out.float().cpu().numpy()

"""A ``bfm`` track → the renderer's driving input: 73-dim coefficient windows of 2·radius+1 frames.

Per frame: 64 expression coefficients (``exp00``..``exp63``), the head's Deep3DFaceRecon angles (x, y, z)
converted back from the track's axis-angle ``head`` rotation, the head translation and 3 crop values
(channels ``crop_scale``, ``crop_x``, ``crop_y`` when the track has them, else the crop of an aligned
256×256 portrait). Window ``t`` gathers frames ``t-r .. t+r`` clamped to the clip, as (73, 2r+1).
"""

from __future__ import annotations

import numpy as np

from core.adapters.bfm_pose import track_to_coeffs
from core.adapters.styletalk_npy import CROP_CHANNELS, DEFAULT_CROP
from core.errors import InputError
from core.resample import resample
from core.track import Track

RENDER_FPS = 30.0
"""StyleTalk renders its coefficient sequences at 30 fps."""
COEFF_DIM = 73


def track_coefficients(track: Track, fps: float = RENDER_FPS) -> np.ndarray:
    """(T, 73) float32 rows ``[64 exp | 3 angles | 3 translation | 3 crop]`` at ``fps``."""
    if track.rig != "bfm":
        raise InputError(
            f"the neural renderer is driven by 3DMM (bfm) tracks, e.g. from the styletalk or sadtalker "
            f"engine; this track is for the '{track.rig}' rig"
        )
    if track.fps != fps:
        track = resample(track, fps)
    if track.num_frames == 0:
        raise InputError("the track has no frames to render")
    coeffs = track_to_coeffs(track, "track")
    if all(c in track.channels for c in CROP_CHANNELS):
        crop = track.values[:, [track.channels.index(c) for c in CROP_CHANNELS]]
    else:
        crop = np.tile(np.asarray(DEFAULT_CROP, dtype=np.float32), (track.num_frames, 1))
    return np.concatenate([coeffs, crop], axis=1).astype(np.float32)


def coefficient_windows(coeffs: np.ndarray, frames: np.ndarray | range, radius: int) -> np.ndarray:
    """(N, 73, 2r+1) windows centred on ``frames``, indices clamped to ``[0, T-1]``."""
    centres = np.asarray(frames, dtype=np.int64)
    index = np.clip(centres[:, None] + np.arange(-radius, radius + 1)[None, :], 0, len(coeffs) - 1)
    return np.ascontiguousarray(coeffs[index].transpose(0, 2, 1))

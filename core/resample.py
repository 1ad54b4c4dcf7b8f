"""Resampling a track to another frame rate (DESIGN §3).

Frame ``i`` of a track at ``fps`` sits at time ``i / fps``. A track of ``T`` frames therefore spans the
times ``0 .. (T-1) / fps_in``. Resampling to ``fps`` keeps exactly the output frames ``k`` whose time
``k / fps`` lies inside that span, so the output has ``floor((T-1) * fps / fps_in) + 1`` frames
(0 for an empty track, 1 for a single frame). A tolerance of 1e-9 frames absorbs floating-point error, so a
time that is a shared frame time in exact arithmetic counts as one.

Channels and the translation are interpolated linearly; rotations (axis-angle) by spherical linear
interpolation of the quaternions along the shortest path. An output frame whose time coincides with an
input frame copies that frame bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from core.errors import InputError
from core.track import Track

_SNAP = 1e-9  # frames: positions this close to an integer are taken as that input frame


def output_frame_count(num_frames: int, fps_in: float, fps_out: float) -> int:
    """Number of frames at ``fps_out`` whose times lie within ``0 .. (num_frames-1) / fps_in``."""
    if num_frames <= 0:
        return 0
    return math.floor((num_frames - 1) * fps_out / fps_in + _SNAP) + 1


def sample_positions(num_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Fractional input-frame position ``k * fps_in / fps_out`` of each output frame ``k``, snapped."""
    count = output_frame_count(num_frames, fps_in, fps_out)
    pos = np.arange(count, dtype=np.float64) * fps_in / fps_out
    nearest = np.rint(pos)
    snapped = np.where(np.abs(pos - nearest) < _SNAP, nearest, pos)
    return np.minimum(snapped, max(num_frames - 1, 0))


def resample(track: Track, fps: float) -> Track:
    """The track at ``fps``: linear for channels and translation, slerp for rotations.

    Equal rates return an unchanged copy. ``meta["resampled_from_fps"]`` records the original rate.
    """
    fps = float(fps)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"cannot resample to {fps} fps: the frame rate must be a positive number")
    meta = dict(track.meta)
    if fps == track.fps:
        return Track(
            fps=track.fps,
            rig=track.rig,
            channels=list(track.channels),
            values=track.values.copy(),
            rotations={k: v.copy() for k, v in track.rotations.items()},
            translation=None if track.translation is None else track.translation.copy(),
            meta=meta,
        )
    pos = sample_positions(track.num_frames, track.fps, fps)
    meta.setdefault("resampled_from_fps", track.fps)
    return Track(
        fps=fps,
        rig=track.rig,
        channels=list(track.channels),
        values=lerp_at(track.values, pos),
        rotations={name: slerp_at(rot, pos) for name, rot in track.rotations.items()},
        translation=None if track.translation is None else lerp_at(track.translation, pos),
        meta=meta,
    )


def _brackets(pos: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper input frames around each position, and the weight of the upper one."""
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, num_frames - 1)
    return lo, hi, pos - lo


def lerp_at(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows of (T,...) ``x`` linearly interpolated at fractional frame positions ``pos`` (in 0..T-1)."""
    if pos.size == 0:
        return np.zeros((0, *x.shape[1:]), dtype=np.float32)
    lo, hi, w = _brackets(pos, x.shape[0])
    a = x[lo].astype(np.float64)
    b = x[hi].astype(np.float64)
    return (a + w[:, None] * (b - a)).astype(np.float32)


def slerp_at(rotvecs: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(T,3) axis-angle rotations slerped (shortest path) at fractional frame positions ``pos``."""
    if pos.size == 0:
        return np.zeros((0, 3), dtype=np.float32)
    lo, hi, w = _brackets(pos, rotvecs.shape[0])
    r0 = Rotation.from_rotvec(rotvecs[lo].astype(np.float64))
    r1 = Rotation.from_rotvec(rotvecs[hi].astype(np.float64))
    # The relative rotation's rotation vector has angle <= pi: the shortest way from r0 to r1.
    step = (r0.inv() * r1).as_rotvec()
    out = (r0 * Rotation.from_rotvec(w[:, None] * step)).as_rotvec().astype(np.float32)
    exact = w == 0
    out[exact] = rotvecs[lo[exact]]
    return out

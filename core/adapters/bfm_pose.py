"""Deep3DFaceRecon's 3DMM head pose, shared by the StyleTalk and SadTalker adapters.

Deep3DFaceRecon (``models/bfm.py: compute_rotation``) stores three Euler angles ``(x, y, z)`` in radians
and builds ``R = Rz(z) @ Ry(y) @ Rx(x)`` (rotations about the fixed x, then y, then z axis), applied to
column vectors; its row-vector code multiplies by the transpose. The track stores the same rotation as an
axis-angle vector in the BFM frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from core.errors import InputError
from core.track import Track

BFM_EXP_CHANNELS: tuple[str, ...] = tuple(f"exp{i:02d}" for i in range(64))


def angles_to_rotvec(angles: np.ndarray) -> np.ndarray:
    """(T,3) Deep3DFaceRecon angles (x, y, z) → (T,3) float32 axis-angle."""
    if len(angles) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    return Rotation.from_euler("xyz", np.asarray(angles, dtype=np.float64)).as_rotvec().astype(np.float32)


def rotvec_to_angles(rotvecs: np.ndarray) -> np.ndarray:
    """(T,3) axis-angle → (T,3) float32 Deep3DFaceRecon angles (x, y, z)."""
    if len(rotvecs) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    return Rotation.from_rotvec(np.asarray(rotvecs, dtype=np.float64)).as_euler("xyz").astype(np.float32)


def coeffs_to_track(coeffs: np.ndarray, fps: float, meta: dict) -> Track:
    """(T, 70+) rows of 64 exp + 3 angles + 3 translation (+ extra) → a ``bfm`` track (extras dropped)."""
    return Track(
        fps=fps,
        rig="bfm",
        channels=list(BFM_EXP_CHANNELS),
        values=coeffs[:, :64],
        rotations={"head": angles_to_rotvec(coeffs[:, 64:67])},
        translation=coeffs[:, 67:70],
        meta=meta,
    )


def track_to_coeffs(track: Track, path: str | Path) -> np.ndarray:
    """A track with ``exp00``..``exp63`` (and optional head rotation/translation) → (T,70) float32.

    A missing head rotation or translation is written as zeros (the frontal, centred pose).
    """
    missing = [c for c in BFM_EXP_CHANNELS if c not in track.channels]
    if missing:
        raise InputError(
            f"{path}: cannot write 3DMM coefficients: the track (rig '{track.rig}') lacks channels "
            f"{missing[:3]}{'...' if len(missing) > 3 else ''}; it needs exp00..exp63 of the bfm rig"
        )
    t = track.num_frames
    index = [track.channels.index(c) for c in BFM_EXP_CHANNELS]
    head = track.rotations.get("head", np.zeros((t, 3), dtype=np.float32))
    trans = track.translation if track.translation is not None else np.zeros((t, 3), dtype=np.float32)
    return np.concatenate([track.values[:, index], rotvec_to_angles(head), trans], axis=1).astype(np.float32)

"""SadTalker's PoseVAE head motion for any engine's track (``--head-motion sadtalker --pose-style N``).

PoseVAE's three angles become the track's ``head`` rotation as axis-angle in the rig's own frame: Y up and
Z toward the viewer for bfm and flame; for the Z-up `arkit` head, +X is still the character's left and the
face looks down −Y. It is computed at 25 fps, held at its last pose past the end of the 25 fps clip, and
slerped to the track's frame rate. An existing head rotation is replaced (``meta["head_motion"]`` says
so). PoseVAE's translation is in BFM units and is not applied.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from core.adapters.bfm_pose import angles_to_rotvec
from core.engines.sadtalker.audio import FPS, mel_windows
from core.engines.sadtalker.loader import load_posevae
from core.engines.sadtalker.posevae import PoseVAENet, predict_pose
from core.errors import ModelMissingError
from core.head_motion import parse_pose_style
from core.model_files import SADTALKER
from core.resample import resample
from core.track import Track


@functools.lru_cache(maxsize=2)
def _posevae(path: Path, mtime: float, device: str) -> PoseVAENet:
    return load_posevae(path, device)


def head_rotation(
    audio: np.ndarray, pose_style: int, seed: int, weights_path: str | Path | None = None, device: str = "cpu"
) -> np.ndarray:
    """(T25, 3) axis-angle head rotation at 25 fps for 16 kHz mono ``audio``."""
    style = parse_pose_style(pose_style)
    path = Path(weights_path) if weights_path else SADTALKER.default_path()
    if not path.is_file():
        raise ModelMissingError(SADTALKER.missing_message(path))
    net = _posevae(path.resolve(), path.stat().st_mtime, device)
    pose = predict_pose(net, mel_windows(np.asarray(audio, dtype=np.float32)), style, seed)
    return angles_to_rotvec(pose[:, :3])


def add_head_motion(
    track: Track,
    audio: np.ndarray,
    pose_style: int,
    seed: int,
    weights_path: str | Path | None = None,
    device: str = "cpu",
) -> Track:
    """A copy of ``track`` whose ``head`` rotation is PoseVAE's motion for ``audio``, at the track's fps."""
    rot25 = head_rotation(audio, pose_style, seed, weights_path, device)
    # Hold the last pose past the clip's end so that every frame of the track has a time to sample.
    cover = math.ceil(track.duration * FPS) + 1
    rot25 = np.concatenate([rot25, np.repeat(rot25[-1:], max(0, cover - len(rot25)), axis=0)])
    carrier = Track(fps=FPS, rig=track.rig, channels=[], values=np.zeros((len(rot25), 0)), rotations={"head": rot25})
    rot = resample(carrier, track.fps).rotations["head"][: track.num_frames]
    if track.rig == "arkit":  # Y up, +Z forward → Z up, −Y forward: (x, y, z) → (x, −z, y)
        rot = np.stack([rot[:, 0], -rot[:, 2], rot[:, 1]], axis=1)
    meta = dict(track.meta)
    meta["head_motion"] = {
        "source": "sadtalker",
        "pose_style": parse_pose_style(pose_style),
        "seed": int(seed),
        "replaced_engine_head": "head" in track.rotations,
    }
    return Track(
        fps=track.fps,
        rig=track.rig,
        channels=list(track.channels),
        values=track.values.copy(),
        rotations={**{k: v.copy() for k, v in track.rotations.items()}, "head": rot},
        translation=None if track.translation is None else track.translation.copy(),
        meta=meta,
    )

"""Readers for the wire forms the server sends: the track (.npz or JSON) and the rig (.npz).

Deliberately a small duplicate of core's readers (DESIGN §1, §3): the add-on imports nothing but
bpy, numpy and the standard library.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRACK_FORMAT = "mouthpiece.track/1"
RIG_FORMAT = "mouthpiece.rig/1"


class WireError(ValueError):
    """A track or rig that this add-on cannot read; the message says why."""


@dataclass
class TrackData:
    """A track as plain arrays: ``values`` (T,C), ``rotations`` {joint: (T,3) axis-angle}."""

    fps: float
    rig: str
    channels: list[str]
    values: np.ndarray
    rotations: dict[str, np.ndarray] = field(default_factory=dict)
    translation: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32).reshape(-1, len(self.channels))
        self.rotations = {k: np.asarray(v, dtype=np.float32).reshape(-1, 3) for k, v in self.rotations.items()}
        if self.translation is not None:
            self.translation = np.asarray(self.translation, dtype=np.float32).reshape(-1, 3)
        frames = self.values.shape[0]
        if not self.fps > 0:
            raise WireError(f"track fps must be positive, got {self.fps}")
        for name, rot in [*self.rotations.items(), ("translation", self.translation)]:
            if rot is not None and rot.shape[0] != frames:
                raise WireError(f"track '{name}' has {rot.shape[0]} frames, values have {frames}")


@dataclass
class RigData:
    """A rig as plain arrays (DESIGN §2); ``faces`` (F,3) or (F,4) with -1 marking a triangle."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    channels: list[str]
    basis: np.ndarray
    landmarks: dict[str, int] = field(default_factory=dict)
    joint_names: list[str] = field(default_factory=list)
    joint_parents: np.ndarray | None = None
    joint_positions: np.ndarray | None = None
    skin_weights: np.ndarray | None = None
    pose_correctives: np.ndarray | None = None
    part_names: list[str] = field(default_factory=list)
    vertex_parts: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def up_axis(self) -> str:
        """'Z' (Blender's convention, our built-in head) or 'Y' (FLAME, BFM); rig meta 'up' may say."""
        default = "Y" if self.name in ("flame", "bfm") else "Z"
        return str(self.meta.get("up", default)).upper().lstrip("+")


def _check_track_format(fmt: str) -> None:
    name, _, version = fmt.partition("/")
    if name != "mouthpiece.track" or not version:
        raise WireError(f"not a Mouthpiece track (format '{fmt}')")
    if version.split(".")[0] != "1":
        raise WireError(f"track format {version} is newer than this add-on reads (1.x); update the add-on")


def read_track(data: bytes) -> TrackData:
    """A track from its .npz or JSON bytes (told apart by the zip signature)."""
    if data[:2] == b"PK":
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise WireError(f"not a track .npz: {exc}") from None
        with z:
            missing = {"format", "fps", "rig", "channels", "values"} - set(z.files)
            if missing:
                raise WireError(f"track .npz is missing {sorted(missing)}")
            _check_track_format(str(z["format"]))
            return TrackData(
                fps=float(z["fps"]),
                rig=str(z["rig"]),
                channels=[str(c) for c in z["channels"]],
                values=z["values"],
                rotations={k.removeprefix("rotation_"): z[k] for k in z.files if k.startswith("rotation_")},
                translation=z["translation"] if "translation" in z.files else None,
                meta=json.loads(str(z["meta"])) if "meta" in z.files else {},
            )
    try:
        d = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"a track is .npz or JSON; this is neither ({exc})") from None
    if not isinstance(d, dict):
        raise WireError("track JSON must be an object")
    missing = {"format", "fps", "rig", "channels", "values"} - set(d)
    if missing:
        raise WireError(f"track JSON is missing {sorted(missing)}")
    _check_track_format(str(d["format"]))
    return TrackData(
        fps=float(d["fps"]),
        rig=str(d["rig"]),
        channels=[str(c) for c in d["channels"]],
        values=np.asarray(d["values"], dtype=np.float32),
        rotations=d.get("rotations") or {},
        translation=d.get("translation"),
        meta=d.get("meta") or {},
    )


def read_rig(data: bytes) -> RigData:
    """A rig from its .npz wire form (``GET /v1/rigs/{rig}``, ``FaceRig.to_npz``)."""
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise WireError(f"not a rig .npz: {exc}") from None
    with z:
        fmt = str(z["format"]) if "format" in z.files else RIG_FORMAT
        if not fmt.startswith(RIG_FORMAT):
            raise WireError(f"unsupported rig format '{fmt}' (this add-on reads {RIG_FORMAT})")
        missing = {"vertices", "faces", "channels", "basis"} - set(z.files)
        if missing:
            raise WireError(f"rig .npz is missing {sorted(missing)}")

        def get(key: str) -> np.ndarray | None:
            return z[key] if key in z.files else None

        rig = RigData(
            name=str(z["name"]) if "name" in z.files else "rig",
            vertices=np.asarray(z["vertices"], dtype=np.float32),
            faces=np.asarray(z["faces"], dtype=np.int64),
            channels=[str(c) for c in z["channels"]],
            basis=np.asarray(z["basis"], dtype=np.float32),
            landmarks=dict(zip(map(str, z["landmark_names"]), map(int, z["landmark_indices"]), strict=True))
            if "landmark_names" in z.files
            else {},
            joint_names=[str(n) for n in z["joint_names"]] if "joint_names" in z.files else [],
            joint_parents=get("joint_parents"),
            joint_positions=get("joint_positions"),
            skin_weights=get("skin_weights"),
            pose_correctives=get("pose_correctives"),
            part_names=[str(n) for n in z["part_names"]] if "part_names" in z.files else [],
            vertex_parts=get("vertex_parts"),
            meta=json.loads(str(z["meta"])) if "meta" in z.files else {},
        )
    nv = rig.vertices.shape[0]
    if rig.basis.shape != (len(rig.channels), nv, 3):
        raise WireError(f"rig basis is {rig.basis.shape}, expected ({len(rig.channels)}, {nv}, 3)")
    if rig.joint_names and (rig.skin_weights is None or rig.skin_weights.shape != (nv, len(rig.joint_names))):
        raise WireError(f"rig skin_weights must be ({nv}, {len(rig.joint_names)})")
    return rig

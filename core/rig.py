"""The face rig data model (DESIGN §2) and its `.npz` wire form."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.errors import InputError

REQUIRED_LANDMARKS: tuple[str, ...] = (
    "lip_upper_mid", "lip_lower_mid", "mouth_corner_L", "mouth_corner_R",
    "eyelid_upper_L", "eyelid_upper_R", "eyelid_lower_L", "eyelid_lower_R", "chin", "nose_tip",
)  # fmt: skip


@dataclass
class FaceRig:
    """A template mesh plus a named linear basis and optional joints.

    ``faces`` is (F,3) triangles or (F,4) quads, where -1 in the last column marks a triangle.
    ``pose_correctives`` (P,V,3) are FLAME-style pose blendshapes driven by the flattened
    ``R - I`` of every non-root joint (P = 9 * (J - 1)).
    ``vertex_parts`` (V,) indexes ``part_names`` (e.g. skin, eye_L, teeth) when the mesh has parts.
    """

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
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float32)
        self.faces = np.asarray(self.faces, dtype=np.int32)
        self.basis = np.asarray(self.basis, dtype=np.float32)
        self.channels = [str(c) for c in self.channels]
        if self.joint_parents is not None:
            self.joint_parents = np.asarray(self.joint_parents, dtype=np.int32)
        if self.joint_positions is not None:
            self.joint_positions = np.asarray(self.joint_positions, dtype=np.float32)
        if self.skin_weights is not None:
            self.skin_weights = np.asarray(self.skin_weights, dtype=np.float32)
        if self.pose_correctives is not None:
            self.pose_correctives = np.asarray(self.pose_correctives, dtype=np.float32)
        if self.vertex_parts is not None:
            self.vertex_parts = np.asarray(self.vertex_parts, dtype=np.int32)
        self.validate()

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def has_joints(self) -> bool:
        return bool(self.joint_names)

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first inconsistency."""
        v = self.vertices
        if v.ndim != 2 or v.shape[1] != 3:
            raise InputError(f"rig '{self.name}': vertices must be (V,3), got {v.shape}")
        n = v.shape[0]
        if self.faces.ndim != 2 or self.faces.shape[1] not in (3, 4):
            raise InputError(f"rig '{self.name}': faces must be (F,3) or (F,4), got {self.faces.shape}")
        if self.faces.size and (self.faces.max() >= n or self.faces[:, :3].min() < 0):
            raise InputError(f"rig '{self.name}': faces index outside 0..{n - 1}")
        if self.basis.shape != (len(self.channels), n, 3):
            raise InputError(
                f"rig '{self.name}': basis must be (C={len(self.channels)},V={n},3), got {self.basis.shape}"
            )
        if len(set(self.channels)) != len(self.channels):
            raise InputError(f"rig '{self.name}': duplicate channel names")
        for lm, idx in self.landmarks.items():
            if not 0 <= idx < n:
                raise InputError(f"rig '{self.name}': landmark '{lm}' index {idx} outside the mesh")
        if self.joint_names:
            j = len(self.joint_names)
            if self.joint_parents is None or self.joint_parents.shape != (j,):
                raise InputError(f"rig '{self.name}': joint_parents must be ({j},)")
            if self.joint_positions is None or self.joint_positions.shape != (j, 3):
                raise InputError(f"rig '{self.name}': joint_positions must be ({j},3)")
            if self.skin_weights is None or self.skin_weights.shape != (n, j):
                raise InputError(f"rig '{self.name}': skin_weights must be ({n},{j})")
            for i, p in enumerate(self.joint_parents):
                if not (p == -1 and i == 0) and not 0 <= p < i:
                    raise InputError(f"rig '{self.name}': joint {i} has parent {p}; parents must come first")
        if self.pose_correctives is not None:
            p = 9 * (len(self.joint_names) - 1)
            if self.pose_correctives.shape != (p, n, 3):
                raise InputError(f"rig '{self.name}': pose_correctives must be ({p},{n},3)")
        if self.vertex_parts is not None and self.vertex_parts.shape != (n,):
            raise InputError(f"rig '{self.name}': vertex_parts must be ({n},)")

    def landmark(self, name: str) -> int:
        try:
            return self.landmarks[name]
        except KeyError:
            raise InputError(f"rig '{self.name}' has no landmark '{name}'") from None

    def channel_index(self, name: str) -> int:
        try:
            return self.channels.index(name)
        except ValueError:
            raise InputError(f"rig '{self.name}' has no channel '{name}'") from None

    def shape(self, weights: np.ndarray) -> np.ndarray:
        """Vertices with the linear basis applied: (C,) → (V,3) or (T,C) → (T,V,3). No joints."""
        w = np.asarray(weights, dtype=np.float32)
        return self.vertices + np.tensordot(w, self.basis, axes=([-1], [0]))

    # ---- wire form -------------------------------------------------------------------------
    def to_npz(self, target: str | Path | BinaryIO) -> None:
        """Write the rig wire form (loadable with ``allow_pickle=False``)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array("mouthpiece.rig/1"),
            "name": np.array(self.name),
            "vertices": self.vertices,
            "faces": self.faces,
            "channels": np.array(self.channels, dtype=np.str_),
            "basis": self.basis,
            "landmark_names": np.array(list(self.landmarks), dtype=np.str_),
            "landmark_indices": np.array(list(self.landmarks.values()), dtype=np.int32),
            "meta": np.array(json.dumps(self.meta)),
        }
        if self.joint_names:
            # validate() (run by __post_init__) requires the joint arrays whenever there are joint names
            assert self.joint_parents is not None and self.joint_positions is not None and self.skin_weights is not None
            arrays["joint_names"] = np.array(self.joint_names, dtype=np.str_)
            arrays["joint_parents"] = self.joint_parents
            arrays["joint_positions"] = self.joint_positions
            arrays["skin_weights"] = self.skin_weights
        if self.pose_correctives is not None:
            arrays["pose_correctives"] = self.pose_correctives
        if self.vertex_parts is not None:
            arrays["part_names"] = np.array(self.part_names, dtype=np.str_)
            arrays["vertex_parts"] = self.vertex_parts
        np.savez_compressed(target, **arrays)

    def to_npz_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_npz(buf)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, source: str | Path | BinaryIO | bytes) -> FaceRig:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        try:
            z = np.load(source, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a rig .npz file: {exc}") from None
        with z:
            fmt = str(z["format"]) if "format" in z else "mouthpiece.rig/1"
            if not fmt.startswith("mouthpiece.rig/1"):
                raise InputError(f"unsupported rig format '{fmt}' (this version reads mouthpiece.rig/1)")
            missing = {"vertices", "faces", "channels", "basis"} - set(z.files)
            if missing:
                raise InputError(f"rig .npz is missing {sorted(missing)}")
            has_joints = "joint_names" in z
            return cls(
                name=str(z["name"]) if "name" in z else "rig",
                vertices=z["vertices"],
                faces=z["faces"],
                channels=[str(c) for c in z["channels"]],
                basis=z["basis"],
                landmarks={str(n): int(i) for n, i in zip(z["landmark_names"], z["landmark_indices"], strict=True)}
                if "landmark_names" in z
                else {},
                joint_names=[str(n) for n in z["joint_names"]] if has_joints else [],
                joint_parents=z["joint_parents"] if has_joints else None,
                joint_positions=z["joint_positions"] if has_joints else None,
                skin_weights=z["skin_weights"] if has_joints else None,
                pose_correctives=z.get("pose_correctives", None),
                part_names=[str(n) for n in z["part_names"]] if "part_names" in z else [],
                vertex_parts=z.get("vertex_parts", None),
                meta=json.loads(str(z["meta"])) if "meta" in z else {},
            )

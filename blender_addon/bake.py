"""Bake a track onto a head: shape keys, bones, pose correctives and head pose, as a new take."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import bpy
import numpy as np

from . import actions
from .head import CORRECTIVES_PROP, corrective_name, head_armature
from .rotations import (
    axis_angle_to_quat,
    make_continuous,
    matrix_to_quat,
    quat_multiply,
    quat_to_matrix,
    resample_linear,
    resample_slerp,
)
from .wire import TrackData

REST_PROP = "mouthpiece_rest"  # on an object without armature: its rest (w,x,y,z, x,y,z) before takes


@dataclass
class BakeResult:
    """What a bake did, for the UI's report."""

    take: int
    name: str
    frame_start: int
    frame_end: int
    keyed_channels: int
    keyed_bones: list[str] = field(default_factory=list)
    missing_channels: list[str] = field(default_factory=list)


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def take_name(meta: dict, number: int) -> str:
    """E.g. 'MP builtin happy 0.7 #3'."""
    engine = meta.get("engine", "track")
    emotion = meta.get("emotion", "")
    intensity = meta.get("intensity")
    parts = ["MP", str(engine)]
    if emotion:
        parts.append(str(emotion))
    if isinstance(intensity, int | float):
        parts.append(f"{intensity:.1f}")
    return " ".join(parts) + f" #{number}"


def _path(block: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(block)}"].value'


def _bone_path(bone: str, prop: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'


def _to_bone_space(quats: np.ndarray, bone: bpy.types.Bone) -> np.ndarray:
    """Rig-space (armature-space) rotations → the pose bone's local rotations: B⁻¹·q·B."""
    qb = matrix_to_quat(np.array(bone.matrix_local.to_3x3()))
    conj = qb * np.array([1.0, -1.0, -1.0, -1.0])
    return make_continuous(quat_multiply(quat_multiply(conj, quats), qb))


def _root_bone(arm: bpy.types.Object) -> bpy.types.Bone:
    return next(b for b in arm.data.bones if b.parent is None)


def bake_track(
    obj: bpy.types.Object,
    track: TrackData,
    *,
    frame_start: int,
    fps: float | None = None,
    mapping: dict[str, list[str]] | None = None,
) -> BakeResult:
    """Key ``track`` on ``obj`` from ``frame_start`` as a new take, resampled to ``fps`` (the scene's).

    ``mapping`` sends a track channel to shape-key names (a user's character); without it a channel
    keys the shape key of the same name. The track's ``head`` rotation drives the root bone, other
    rotations the bones of their name; without an armature the head pose goes on the object.
    """
    scene = bpy.context.scene
    fps = float(fps or scene_fps(scene))
    keys = obj.data.shape_keys if obj.type == "MESH" else None
    blocks = keys.key_blocks if keys is not None else {}
    if mapping is None:
        mapping = {c: [c] for c in track.channels}
    targets = [(i, b) for i, c in enumerate(track.channels) for b in mapping.get(c, []) if b in blocks]
    keyed = {track.channels[i] for i, _ in targets}
    missing = [c for c in track.channels if c not in keyed]

    values = resample_linear(track.values, track.fps, fps)
    n = len(values)
    frames = frame_start + np.arange(n, dtype=np.float64)
    quats = {k: resample_slerp(axis_angle_to_quat(v), track.fps, fps) for k, v in track.rotations.items()}
    translation = resample_linear(track.translation, track.fps, fps) if track.translation is not None else None

    number = actions.next_take_number()
    meta = dict(track.meta, fps=fps, frame_start=frame_start)
    take = actions.Take(take_name(track.meta, number), number, obj.name, meta)
    result = BakeResult(number, take.name, frame_start, frame_start + n - 1, len(keyed), missing_channels=missing)

    # shape keys: the track's channels, then pose correctives driven by the joints' R - I
    shape_paths = [(_path(b), 0) for _, b in targets]
    shape_values = [values[:, i] for i, _ in targets]
    if keys is not None and CORRECTIVES_PROP in obj:
        identity = np.eye(3)
        for joint in json.loads(obj[CORRECTIVES_PROP]):
            q = quats.get(joint)
            entries = (quat_to_matrix(q) - identity).reshape(n, 9) if q is not None else np.zeros((n, 9))
            for e in range(9):
                name = corrective_name(joint, e)
                if name in blocks:
                    shape_paths.append((_path(name), 0))
                    shape_values.append(entries[:, e])
    if shape_paths:
        for curve, column in zip(take.fcurves("shape_keys", keys, shape_paths), shape_values, strict=True):
            actions.write_keys(curve, frames, column)

    arm = head_armature(obj) if obj.type == "MESH" else None
    if arm is not None:
        _bake_bones(take, arm, quats, translation, frames, result)
    elif "head" in quats or translation is not None:
        _bake_object_pose(take, obj, quats.get("head"), translation, frames)

    scene.frame_start = min(scene.frame_start, frame_start)
    scene.frame_end = max(scene.frame_end, result.frame_end)
    return result


def _bake_bones(
    take: actions.Take,
    arm: bpy.types.Object,
    quats: dict[str, np.ndarray],
    translation: np.ndarray | None,
    frames: np.ndarray,
    result: BakeResult,
) -> None:
    root = _root_bone(arm)
    per_bone = {(root.name if name == "head" else name): q for name, q in quats.items()}
    paths: list[tuple[str, int]] = []
    columns: list[np.ndarray] = []
    for name, q in per_bone.items():
        bone = arm.data.bones.get(name)
        if bone is None:
            continue
        arm.pose.bones[name].rotation_mode = "QUATERNION"
        local = _to_bone_space(q, bone)
        paths += [(_bone_path(name, "rotation_quaternion"), k) for k in range(4)]
        columns += [local[:, k] for k in range(4)]
        result.keyed_bones.append(name)
    if translation is not None:
        rest = np.array(root.matrix_local.to_3x3())
        local_t = translation @ rest  # Bᵀ·t for each row
        paths += [(_bone_path(root.name, "location"), k) for k in range(3)]
        columns += [local_t[:, k] for k in range(3)]
    if paths:
        for curve, column in zip(take.fcurves("bones", arm, paths), columns, strict=True):
            actions.write_keys(curve, frames, column)


def _bake_object_pose(
    take: actions.Take,
    obj: bpy.types.Object,
    head: np.ndarray | None,
    translation: np.ndarray | None,
    frames: np.ndarray,
) -> None:
    """Head pose of a rig without bones (BFM): rotate/move the object about its rest placement."""
    if REST_PROP not in obj:
        rest_q = np.array(obj.matrix_basis.to_quaternion())
        obj[REST_PROP] = [*rest_q.tolist(), *obj.location]
    rest = np.array(obj[REST_PROP], dtype=np.float64)
    obj.rotation_mode = "QUATERNION"
    paths: list[tuple[str, int]] = []
    columns: list[np.ndarray] = []
    if head is not None:
        q = make_continuous(quat_multiply(rest[:4], head))
        paths += [("rotation_quaternion", k) for k in range(4)]
        columns += [q[:, k] for k in range(4)]
    if translation is not None:
        world = translation @ quat_to_matrix(rest[:4]).T * np.array(obj.scale) + rest[4:]
        paths += [("location", k) for k in range(3)]
        columns += [world[:, k] for k in range(3)]
    for curve, column in zip(take.fcurves("object", obj, paths), columns, strict=True):
        actions.write_keys(curve, frames, column)

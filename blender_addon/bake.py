"""Bake a track onto a head: shape keys, picked bones, pose correctives and head pose, as a new take.

Only face data is keyed: the shape keys the mapping names and the bones the caller picks, each bone in its
own rotation mode. A bake that fails part-way leaves nothing behind (:meth:`actions.Take.discard`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

import bpy
import numpy as np
from mathutils import Euler, Quaternion

from . import actions
from .head import (
    CORRECTIVES_PROP,
    armature_of,
    corrective_name,
    current_scene,
    head_armature,
    pose_bones,
    shape_keys_of,
)
from .rotations import axis_angle_to_quat, make_continuous, matrix_to_quat, quat_multiply, quat_to_matrix
from .wire import TrackData

REST_PROP = "mouthpiece_rest"  # on an object without armature: its rest (w,x,y,z, x,y,z) before takes
GROUPS = ("mouth", "brows", "eyes", "head")  # what the per-group gains scale
EulerOrder = Literal["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def channel_group(name: str) -> str:
    """The gain group of a shape-key channel or a joint: brows, eyes, head (head/neck) or mouth."""
    low = name.lower()
    if low.startswith("brow"):
        return "brows"
    if low.startswith("eye"):
        return "eyes"
    if low in ("head", "neck", "global"):
        return "head"
    return "mouth"


@dataclass
class BakeOptions:
    """How a track is keyed: per-group gains (1 when absent), a timing offset in frames (positive: the
    face moves later than its sound), and a key-reduction tolerance (0: a key on every frame)."""

    gains: dict[str, float] = field(default_factory=dict)
    offset: float = 0.0
    tolerance: float = 0.0


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
    combined: list[str] = field(default_factory=list)  # "Smile = max(mouthSmileLeft, mouthSmileRight)"
    layered: list[str] = field(default_factory=list)  # data-blocks whose own animation the take plays over


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def key_frames(num_samples: int, track_fps: float, scene_fps: float) -> np.ndarray:
    """Where a track's samples go on the timeline, in frames after the take's start: t·scene_fps."""
    return np.arange(num_samples, dtype=np.float64) * (scene_fps / track_fps)


def last_whole_frame(num_samples: int, track_fps: float, scene_fps: float) -> int:
    """The take's last whole frame after its start: the last one at or before its last sample (a rounding
    slack of 1e-9 frames keeps 24000/1001 and the like exact)."""
    if num_samples <= 0:
        return 0
    return math.floor((num_samples - 1) * scene_fps / track_fps + 1e-9)


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


def rotation_columns(mode: str, quats: np.ndarray) -> tuple[str, list[np.ndarray]]:
    """(N,4) quaternions as the F-curve columns of a rotation in ``mode`` (the bone's or object's own)."""
    if mode == "QUATERNION":
        return "rotation_quaternion", [quats[:, k] for k in range(4)]
    if mode == "AXIS_ANGLE":
        rows = [Quaternion(q).to_axis_angle() for q in quats]
        return "rotation_axis_angle", [np.array([r[1] for r in rows]), *np.array([r[0] for r in rows]).T]
    order = cast(EulerOrder, mode)  # the other rotation modes are Euler orders
    eulers: list[tuple[float, float, float]] = []
    previous: Euler | None = None
    for q in quats:
        previous = Quaternion(q).to_euler(order) if previous is None else Quaternion(q).to_euler(order, previous)
        eulers.append((previous.x, previous.y, previous.z))
    return "rotation_euler", list(np.array(eulers).T)


def default_bones(arm: bpy.types.Object, joints: list[str]) -> dict[str, str]:
    """A built-in head's bones: each joint's bone of the same name, the head on the root bone."""
    names = armature_of(arm).bones
    picks = {j: j for j in joints if j in names}
    if "head" in joints and "head" not in picks:
        picks["head"] = next(b.name for b in names if b.parent is None)
    return picks


def bake_track(
    obj: bpy.types.Object,
    track: TrackData,
    *,
    frame_start: int,
    fps: float | None = None,
    mapping: dict[str, list[str]] | None = None,
    bones: dict[str, str] | None = None,
    options: BakeOptions | None = None,
    then: Callable[[BakeResult], None] | None = None,
) -> BakeResult:
    """Key ``track`` on ``obj`` from ``frame_start`` as a new take, on a timeline of ``fps`` (the scene's).

    Each of the track's samples is keyed once, at its own time: frame ``frame_start + t·fps``. A track at the
    scene's rate (Generate asks the server for one) keys one key per frame; one at another rate (a file)
    keys on fractional frames, so every sample keeps its value and time, and Blender's linear interpolation
    between keys gives the frames in between (as Blender's own BVH/FBX import does).

    ``mapping`` sends a track channel to shape-key names (a user's character); without it a channel
    keys the shape key of the same name; a key driven by several channels gets their maximum.
    ``bones`` sends a track joint (head, neck, jaw, eye_L, eye_R) to the bone it drives; no other bone
    is keyed. Without it (a built-in head) each joint drives its bone and the head the root bone.
    Without an armature the head pose goes on the object. ``then`` runs on the finished take (tagging it,
    placing its sound); on any error, there or in the bake, nothing of the take remains.
    """
    options = options or BakeOptions()
    scene = current_scene()
    fps = float(fps or scene_fps(scene))
    number = actions.next_take_number()
    meta = dict(track.meta, fps=fps, frame_start=frame_start)
    take = actions.Take(take_name(track.meta, number), number, obj.name, meta)
    frame_range = scene.frame_start, scene.frame_end
    take.on_discard(lambda: setattr(scene, "frame_start", frame_range[0]))
    take.on_discard(lambda: setattr(scene, "frame_end", frame_range[1]))
    try:
        result = _bake(take, obj, track, frame_start, fps, mapping, bones, options)
        take.show()
        scene.frame_start = min(scene.frame_start, frame_start)
        scene.frame_end = max(scene.frame_end, result.frame_end)
        if then is not None:
            then(result)
    except BaseException:
        take.discard()
        raise
    return result


def _bake(
    take: actions.Take,
    obj: bpy.types.Object,
    track: TrackData,
    frame_start: int,
    fps: float,
    mapping: dict[str, list[str]] | None,
    bones: dict[str, str] | None,
    options: BakeOptions,
) -> BakeResult:
    keys = shape_keys_of(obj)
    blocks = {b.name for b in keys.key_blocks} if keys is not None else set()
    if mapping is None:
        mapping = {c: [c] for c in track.channels}
    by_block: dict[str, list[int]] = {}
    for i, channel in enumerate(track.channels):
        for block in mapping.get(channel, []):
            if block in blocks and i not in by_block.get(block, []):
                by_block.setdefault(block, []).append(i)
    keyed = {track.channels[i] for columns in by_block.values() for i in columns}
    missing = [c for c in track.channels if c not in keyed]
    combined = [f"{b} = max({', '.join(track.channels[i] for i in cols)})" for b, cols in by_block.items()
                if len(cols) > 1]  # fmt: skip

    gain = np.array([options.gains.get(channel_group(c), 1.0) for c in track.channels], dtype=np.float64)
    values = np.asarray(track.values, dtype=np.float64) * gain
    n = len(values)
    frames = frame_start + options.offset + key_frames(n, track.fps, fps)
    quats = {k: axis_angle_to_quat(v * options.gains.get(channel_group(k), 1.0)) for k, v in track.rotations.items()}
    translation = None
    if track.translation is not None:
        translation = np.asarray(track.translation, dtype=np.float64) * options.gains.get("head", 1.0)

    result = BakeResult(take.number, take.name, frame_start, frame_start + last_whole_frame(n, track.fps, fps),
                        len(keyed), missing_channels=missing, combined=combined)  # fmt: skip

    # shape keys: the track's channels, then pose correctives driven by the joints' R - I
    shape_paths = [(_path(b), 0) for b in by_block]
    shape_values = [values[:, cols].max(axis=1) for cols in by_block.values()]
    if keys is not None and obj.get(CORRECTIVES_PROP) is not None:
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
        assert keys is not None
        for curve, column in zip(take.fcurves("shape_keys", keys, shape_paths), shape_values, strict=True):
            actions.write_keys(curve, frames, column, options.tolerance)

    arm = head_armature(obj) if obj.type == "MESH" else None
    if arm is not None:
        picks = default_bones(arm, list(quats)) if bones is None else bones
        _bake_bones(take, arm, quats, translation, frames, picks, options.tolerance, result)
    elif bones is None and ("head" in quats or translation is not None):
        _bake_object_pose(take, obj, quats.get("head"), translation, frames, options.tolerance, result)
    return result


def _bake_bones(
    take: actions.Take,
    arm: bpy.types.Object,
    quats: dict[str, np.ndarray],
    translation: np.ndarray | None,
    frames: np.ndarray,
    picks: dict[str, str],
    tolerance: float,
    result: BakeResult,
) -> None:
    """Key the picked bones only, each in its own rotation mode; the head's translation goes on the head
    bone when it can move (a root or unconnected bone)."""
    paths: list[tuple[str, int]] = []
    columns: list[np.ndarray] = []
    for joint, name in picks.items():
        bone = armature_of(arm).bones.get(name)
        if bone is None or joint not in quats or name in result.keyed_bones:
            continue
        prop, cols = rotation_columns(pose_bones(arm)[name].rotation_mode, _to_bone_space(quats[joint], bone))
        paths += [(_bone_path(name, prop), k) for k in range(len(cols))]
        columns += cols
        result.keyed_bones.append(name)
    head = armature_of(arm).bones.get(picks.get("head", ""))
    if translation is not None and head is not None and not head.use_connect:
        rest = np.array(head.matrix_local.to_3x3())
        local_t = translation @ rest  # Bᵀ·t for each row
        paths += [(_bone_path(head.name, "location"), k) for k in range(3)]
        columns += [local_t[:, k] for k in range(3)]
    if paths:
        if actions.has_own_animation(arm):
            result.layered.append(arm.name)
        for curve, column in zip(take.fcurves("bones", arm, paths), columns, strict=True):
            actions.write_keys(curve, frames, column, tolerance)


def _bake_object_pose(
    take: actions.Take,
    obj: bpy.types.Object,
    head: np.ndarray | None,
    translation: np.ndarray | None,
    frames: np.ndarray,
    tolerance: float,
    result: BakeResult,
) -> None:
    """Head pose of a rig without bones (BFM): rotate/move the object about its rest placement, keyed in
    the object's own rotation mode."""
    if obj.get(REST_PROP) is None:
        rest_q = np.array(obj.matrix_basis.to_quaternion())
        obj[REST_PROP] = [*rest_q.tolist(), *obj.location.to_tuple()]
        take.on_discard(lambda: obj.pop(REST_PROP, None))
    rest = np.array(obj[REST_PROP], dtype=np.float64)
    paths: list[tuple[str, int]] = []
    columns: list[np.ndarray] = []
    if head is not None:
        prop, cols = rotation_columns(obj.rotation_mode, make_continuous(quat_multiply(rest[:4], head)))
        paths += [(prop, k) for k in range(len(cols))]
        columns += cols
    if translation is not None:
        world = translation @ quat_to_matrix(rest[:4]).T * np.array(obj.scale) + rest[4:]
        paths += [("location", k) for k in range(3)]
        columns += [world[:, k] for k in range(3)]
    if actions.has_own_animation(obj):
        result.layered.append(obj.name)
    for curve, column in zip(take.fcurves("object", obj, paths), columns, strict=True):
        actions.write_keys(curve, frames, column, tolerance)

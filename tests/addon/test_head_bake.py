"""Head building from the rig wire form, and baking a track onto it (Blender 5.0: slotted actions)."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.bake import bake_track
from blender_addon.head import build_head, head_armature
from blender_addon.rotations import axis_angle_to_quat, quat_to_matrix
from blender_addon.wire import read_rig, read_track
from core.lbs import axis_angle_to_matrix, pose_rig
from core.resample import output_frame_count, resample

from .conftest import JOINTS, grid_rig, key_frames, random_track


def _co(data, n: int) -> np.ndarray:
    out = np.empty(n * 3, dtype=np.float32)
    data.foreach_get("co", out)
    return out.reshape(n, 3)


def test_build_head_mesh_keys_bones_and_groups(scene):
    rig = grid_rig(correctives=True)
    obj = build_head(read_rig(rig.to_npz_bytes()))
    mesh = obj.data
    assert len(mesh.vertices) == 12
    assert [len(p.vertices) for p in mesh.polygons] == [4] * 5 + [3, 3]
    assert list(mesh.polygons[5].vertices) == list(rig.faces[5, :3])
    np.testing.assert_allclose(_co(mesh.vertices, 12), rig.vertices, atol=1e-7)

    blocks = mesh.shape_keys.key_blocks
    assert blocks[0].name == "Basis" and [b.name for b in blocks[1:4]] == rig.channels
    for c, name in enumerate(rig.channels):
        np.testing.assert_allclose(_co(blocks[name].data, 12), rig.vertices + rig.basis[c], atol=1e-6)
    assert len(blocks) == 1 + 3 + 36 and blocks["pose_jaw_21"].slider_min == -2.0
    np.testing.assert_allclose(
        _co(blocks["pose_jaw_21"].data, 12), rig.vertices + rig.pose_correctives[9 + 7], atol=1e-6
    )

    arm = head_armature(obj)
    assert obj.parent == arm and arm.type == "ARMATURE"
    bones = arm.data.bones
    assert [b.name for b in bones] == JOINTS
    assert [b.parent.name if b.parent else None for b in bones] == [None, "head", "neck", "neck", "neck"]
    for j, bone in enumerate(bones):
        np.testing.assert_allclose(bone.head_local, rig.joint_positions[j], atol=1e-6)
    weights = np.zeros((12, 5))
    for v in mesh.vertices:
        for g in v.groups:
            weights[v.index, g.group] = g.weight
    assert [g.name for g in obj.vertex_groups] == JOINTS
    np.testing.assert_allclose(weights, rig.skin_weights, atol=1e-6)


def _evaluated_vertices(obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    co = _co(mesh.vertices, len(mesh.vertices))
    evaluated.to_mesh_clear()
    world = np.array(obj.matrix_world)
    return co @ world[:3, :3].T + world[:3, 3]


@pytest.mark.parametrize("up", ["Z", "Y"])
def test_bake_at_the_scene_rate_keys_every_frame_and_deforms_like_lbs(scene, up):
    rig = grid_rig(correctives=True, up=up)
    track = random_track(frames=40, fps=30.0)  # Generate asks the server for the scene's rate
    obj = build_head(read_rig(rig.to_npz_bytes()))
    result = bake_track(obj, read_track(track.to_npz_bytes()), frame_start=10)

    expected = track
    n = expected.num_frames
    assert (result.frame_start, result.frame_end) == (10, 10 + n - 1)
    assert (scene.frame_start, scene.frame_end) == (1, 10 + n - 1)
    blocks = obj.data.shape_keys.key_blocks
    arm = head_armature(obj)
    up_rot = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]) if up == "Y" else np.eye(3)  # X +90°
    for k in (0, 1, 7, n // 2, n - 1):
        scene.frame_set(10 + k)
        for c, name in enumerate(track.channels):
            assert blocks[name].value == pytest.approx(expected.values[k, c], abs=1e-4)
        jaw_r = axis_angle_to_quat(expected.rotations["jaw"][k])
        entries = (quat_to_matrix(jaw_r) - np.eye(3)).ravel()
        assert blocks["pose_jaw_12"].value == pytest.approx(entries[5], abs=1e-4)
        # the root bone's pose rotation, in armature (rig) space, is the track's head rotation
        root = arm.pose.bones["head"]
        pose = np.array(root.matrix.to_3x3()) @ np.array(root.bone.matrix_local.to_3x3()).T
        np.testing.assert_allclose(pose, quat_to_matrix(axis_angle_to_quat(expected.rotations["head"][k])),
                                   atol=1e-4)  # fmt: skip
        posed = pose_rig(
            rig, expected.values[k : k + 1], {j: expected.rotations[j][k : k + 1] for j in expected.rotations}
        )
        np.testing.assert_allclose(_evaluated_vertices(obj), posed[0] @ up_rot.T, atol=1e-4)
    assert key_frames(obj.data.shape_keys, 'key_blocks["jawOpen"].value') == list(range(10, 10 + n))  # 1:1


def test_a_track_at_another_rate_keys_each_sample_at_its_own_time(scene):
    """A 25 fps file on a 30 fps scene: keys at 10 + 1.2·i, the samples' own values there; the whole frames in
    between are Blender's linear interpolation, which is core's resampling to 30 fps (nlerp for rotations)."""
    rig = grid_rig(correctives=True)
    track = random_track(frames=40, fps=25.0)
    obj = build_head(read_rig(rig.to_npz_bytes()))
    result = bake_track(obj, read_track(track.to_npz_bytes()), frame_start=10)

    expected = resample(track, 30.0)
    n = expected.num_frames
    assert n == output_frame_count(40, 25.0, 30.0) == 47
    assert (result.frame_start, result.frame_end) == (10, 10 + n - 1)
    assert (scene.frame_start, scene.frame_end) == (1, 10 + n - 1)
    frames = key_frames(obj.data.shape_keys, 'key_blocks["jawOpen"].value')
    np.testing.assert_allclose(frames, 10 + np.arange(40) * 1.2, atol=1e-4)
    blocks = obj.data.shape_keys.key_blocks
    root = head_armature(obj).pose.bones["head"]

    def root_pose() -> np.ndarray:
        return np.array(root.matrix.to_3x3()) @ np.array(root.bone.matrix_local.to_3x3()).T

    for i in (0, 1, 2, 17, 39):  # at each sample's own (fractional) frame: the sample itself
        frame = 10 + i * 30.0 / 25.0
        scene.frame_set(int(frame), subframe=frame - int(frame))
        for c, name in enumerate(track.channels):
            assert blocks[name].value == pytest.approx(track.values[i, c], abs=1e-5)
        entries = (quat_to_matrix(axis_angle_to_quat(track.rotations["jaw"][i])) - np.eye(3)).ravel()
        assert blocks["pose_jaw_12"].value == pytest.approx(entries[5], abs=1e-5)
        head = quat_to_matrix(axis_angle_to_quat(track.rotations["head"][i]))
        np.testing.assert_allclose(root_pose(), head, atol=1e-5)
    for k in (0, 1, 3, 7, n // 2, n - 1):  # at whole frames: core's resampling
        scene.frame_set(10 + k)
        for c, name in enumerate(track.channels):
            assert blocks[name].value == pytest.approx(expected.values[k, c], abs=1e-5)
        head = quat_to_matrix(axis_angle_to_quat(expected.rotations["head"][k]))
        np.testing.assert_allclose(root_pose(), head, atol=1e-4)
        posed = pose_rig(rig, expected.values[k : k + 1], {j: r[k : k + 1] for j, r in expected.rotations.items()})
        np.testing.assert_allclose(_evaluated_vertices(obj), posed[0], atol=1e-4)


def test_rotations_between_keys_take_the_short_way(scene):
    """3.0 → -3.0 rad about z is a short hop across π: halfway, the head has turned by π, not back through 0."""
    rig = grid_rig()
    obj = build_head(read_rig(rig.to_npz_bytes()))
    track = random_track(frames=3, fps=1.0)
    track.rotations = {"head": np.array([[0, 0, 0.1], [0, 0, 3.0], [0, 0, -3.0]])}
    scene.render.fps = 2
    bake_track(obj, read_track(track.to_npz_bytes()), frame_start=1)
    root = head_armature(obj).pose.bones["head"]
    for frame, angle in ((1, 0.1), (3, 3.0), (4, np.pi), (5, -3.0)):
        scene.frame_set(frame)
        pose = np.array(root.matrix.to_3x3()) @ np.array(root.bone.matrix_local.to_3x3()).T
        np.testing.assert_allclose(pose, axis_angle_to_matrix(np.array([0, 0, angle])), atol=1e-6)


@pytest.mark.skipif(bpy.app.version < (4, 4, 0), reason="slotted actions are Blender 4.4+")
def test_bake_writes_keys_in_bulk_on_a_slotted_action(scene):
    assert actions.slotted_actions()
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    track = read_track(random_track().to_npz_bytes())
    scene.render.fps = 25  # the track's rate: a key on every frame
    result = bake_track(obj, track, frame_start=1)
    action = obj.data.shape_keys.animation_data.action
    assert action.name == result.name == "MP builtin happy 0.7 #1"
    assert action.is_action_layered and action[actions.TAKE_PROP] == 1
    assert {s.target_id_type for s in action.slots} == {"KEY", "OBJECT"}
    arm = head_armature(obj)
    assert arm.animation_data.action == action
    assert arm.animation_data.action_slot.target_id_type == "OBJECT"
    bag = action.layers[0].strips[0].channelbag(obj.data.shape_keys.animation_data.action_slot)
    curve = bag.fcurves.find('key_blocks["jawOpen"].value')
    values = track.values
    co = np.empty(2 * len(values), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    np.testing.assert_array_equal(co[0::2], np.arange(1, len(values) + 1))
    np.testing.assert_allclose(co[1::2], values[:, 0], atol=1e-6)
    assert {k.interpolation for k in curve.keyframe_points} == {"LINEAR"}
    jaw = [c for c in action.layers[0].strips[0].channelbag(arm.animation_data.action_slot).fcurves
           if c.data_path == 'pose.bones["jaw"].rotation_quaternion']  # fmt: skip
    assert sorted(c.array_index for c in jaw) == [0, 1, 2, 3]
    assert all(len(c.keyframe_points) == len(values) for c in jaw)


def test_bone_less_head_pose_goes_on_the_object(scene):
    rig = grid_rig(name="bfm", joints=False, up="Y")
    obj = build_head(read_rig(rig.to_npz_bytes()))
    assert head_armature(obj) is None and obj.rotation_euler[0] == pytest.approx(math.pi / 2)
    track = random_track()
    track.rotations = {"head": track.rotations["head"]}
    track.translation = np.tile([0.0, 0.01, 0.0], (track.num_frames, 1)).astype(np.float32)
    bake_track(obj, read_track(track.to_npz_bytes()), frame_start=1, fps=25.0)
    scene.render.fps = 25
    scene.frame_set(5)
    expected = quat_to_matrix(axis_angle_to_quat(track.rotations["head"][4]))
    stand_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    np.testing.assert_allclose(np.array(obj.matrix_world.to_3x3()), stand_up @ expected, atol=1e-4)
    np.testing.assert_allclose(np.array(obj.location), [0.0, 0.0, 0.01], atol=1e-6)  # rig +Y is up


def test_user_character_keys_through_a_mapping(scene):
    mesh = bpy.data.meshes.new("char")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("char", mesh)
    scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    obj.shape_key_add(name="Jaw_Open")
    track = read_track(random_track().to_npz_bytes())
    result = bake_track(obj, track, frame_start=1, fps=25.0, mapping={"jawOpen": ["Jaw_Open"]})
    assert result.keyed_channels == 1 and result.missing_channels == ["mouthSmileLeft", "eyeBlinkLeft"]
    scene.render.fps = 25
    scene.frame_set(3)
    assert obj.data.shape_keys.key_blocks["Jaw_Open"].value == pytest.approx(track.values[2, 0], abs=1e-4)


@pytest.mark.skipif(actions.slotted_actions(), reason="the classic action API is Blender 4.2–4.3's")
def test_bake_on_classic_actions_makes_one_action_per_data_block(scene):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    track = read_track(random_track().to_npz_bytes())
    scene.render.fps = 25  # the track's rate: a key on every frame
    result = bake_track(obj, track, frame_start=1)
    key_action = obj.data.shape_keys.animation_data.action
    bone_action = head_armature(obj).animation_data.action
    assert key_action.name == result.name and bone_action.name == f"{result.name} bones"
    assert (key_action.id_root, bone_action.id_root) == ("KEY", "OBJECT")
    assert key_action[actions.TAKE_PROP] == bone_action[actions.TAKE_PROP] == 1
    values = track.values
    curve = key_action.fcurves.find('key_blocks["jawOpen"].value')
    co = np.empty(2 * len(values), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    np.testing.assert_allclose(co[1::2], values[:, 0], atol=1e-6)
    assert len([c for c in bone_action.fcurves if c.data_path.endswith("rotation_quaternion")]) == 20

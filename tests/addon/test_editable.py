"""Takes an animator can edit: correct handles, key reduction within a tolerance, per-group gains, a timing
offset; and a bone-less head that plays its take over the object's own animation."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.bake import BakeOptions, bake_track
from blender_addon.head import build_head, head_armature
from blender_addon.wire import read_rig, read_track

from .characters import action_keys, mesh_object
from .conftest import grid_rig, random_track


def _curve(action: bpy.types.Action, path: str) -> bpy.types.FCurve:
    if actions.slotted_actions():
        curves = [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags
                  for c in bag.fcurves]  # fmt: skip
    else:
        curves = list(action.fcurves)
    return next(c for c in curves if c.data_path == path)


def test_handles_are_set_so_bezier_evaluates_like_blenders_own_keys(scene):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    track = read_track(random_track(frames=40, fps=30.0).to_npz_bytes())
    bake_track(obj, track, frame_start=1)
    curve = _curve(obj.data.shape_keys.animation_data.action, 'key_blocks["jawOpen"].value')
    reference = bpy.data.actions.new("by hand")
    keyed = mesh_object("by hand", ["jawOpen"])
    block = keyed.data.shape_keys.key_blocks["jawOpen"]
    for k, value in enumerate(track.values[:, 0]):
        block.value = float(value)
        block.keyframe_insert("value", frame=1 + k)
    reference = _curve(keyed.data.shape_keys.animation_data.action, 'key_blocks["jawOpen"].value')
    for c in (curve, reference):
        for point in c.keyframe_points:
            point.interpolation = "BEZIER"
    left = np.array([p.handle_left[0] - p.co[0] for p in curve.keyframe_points[1:]])
    np.testing.assert_allclose(left, -1 / 3, atol=1e-5)  # handles a third of the way to the neighbours
    for frame in np.arange(1.5, 40, 1.0):
        assert curve.evaluate(frame) == pytest.approx(reference.evaluate(frame), abs=1e-5), frame


def test_key_reduction_keeps_the_curve_within_the_tolerance(scene):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    t = np.arange(300) / 30.0
    speaking = (np.sin(2 * np.pi * 0.25 * t) > 0).astype(np.float64)  # 2 s of words, 2 s of rest
    values = np.stack([speaking * 0.3 * (1 - np.cos(2 * np.pi * 2.0 * t)), 0.2 + 0.1 * np.sin(2 * np.pi * 0.3 * t),
                       np.exp(-(((t % 3.0) - 1.5) ** 2) / 0.005)], axis=1)  # jaw, smile, blinks  # fmt: skip
    track = read_track(random_track(frames=300, fps=30.0).to_npz_bytes())
    track.values = values.astype(np.float32)
    bake_track(obj, track, frame_start=1, options=BakeOptions(tolerance=0.01))
    action = obj.data.shape_keys.animation_data.action
    total = 0
    for c, name in enumerate(track.channels):
        curve = _curve(action, f'key_blocks["{name}"].value')
        total += len(curve.keyframe_points)
        times = np.arange(1.0, 300.0, 0.25)
        full = np.interp(times, np.arange(1, 301), track.values[:, c])
        error = np.abs(np.array([curve.evaluate(t) for t in times]) - full)
        assert error.max() <= 0.01 + 1e-5, (name, error.max())
        print(f"{name}: {len(curve.keyframe_points)} of 300 keys, largest error {error.max():.4f}")
    assert total < 0.25 * 900  # far fewer keys


def test_group_gains_and_a_timing_offset(scene):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    track = read_track(random_track(frames=30, fps=30.0).to_npz_bytes())
    gains = {"mouth": 0.5, "eyes": 0.0, "head": 0.0}
    bake_track(obj, track, frame_start=10, options=BakeOptions(gains=gains, offset=2.5))
    keys = action_keys(obj.data.shape_keys.animation_data.action)
    jaw = keys[('key_blocks["jawOpen"].value', 0)]
    np.testing.assert_allclose(jaw[:, 0], 12.5 + np.arange(30))  # 2.5 frames after the sound's start
    np.testing.assert_allclose(jaw[:, 1], 0.5 * track.values[:, 0], atol=1e-6)
    np.testing.assert_allclose(keys[('key_blocks["eyeBlinkLeft"].value', 0)][:, 1], 0.0)
    bones = action_keys(head_armature(obj).animation_data.action)
    head_w = bones[('pose.bones["head"].rotation_quaternion', 0)][:, 1]
    np.testing.assert_allclose(head_w, 1.0, atol=1e-6)  # no head motion
    assert bones[('pose.bones["jaw"].rotation_quaternion', 0)][:, 1].min() < 0.9999  # the jaw still moves


def test_a_boneless_head_plays_its_pose_over_the_objects_own_animation(scene):
    obj = build_head(read_rig(grid_rig(name="bfm", joints=False, up="Y").to_npz_bytes()))
    for frame, x in ((1, 0.0), (40, 1.0)):  # the artist slides the head along X
        obj.location.x = x
        obj.keyframe_insert("location", frame=frame)
    slide = obj.animation_data.action
    slid = []
    for frame in range(1, 41):
        scene.frame_set(frame)
        slid.append(np.array(obj.location))
    track = random_track(frames=40, fps=30.0)
    track.rotations = {"head": track.rotations["head"]}
    result = bake_track(obj, read_track(track.to_npz_bytes()), frame_start=1)
    assert result.layered == [obj.name] and obj.animation_data.action == slide and obj.rotation_mode == "XYZ"
    strip = obj.animation_data.nla_tracks[actions.NLA_TRACK].strips[0]
    assert strip.blend_type == "COMBINE" and actions.is_take(strip.action)
    turned = 0.0
    for frame in range(1, 41):
        scene.frame_set(frame)
        np.testing.assert_allclose(np.array(obj.location), slid[frame - 1], atol=1e-6)  # the slide, as it was
        turned = max(turned, abs(obj.rotation_euler[2]) + abs(obj.rotation_euler[1]))
    assert turned > 0.01 and obj.rotation_euler[0] == pytest.approx(math.pi / 2, abs=0.5)  # the take turns it

"""Characters as artists have them, built in the real bpy: a head skinned to a body armature with a walk,
an animated object, a library-override character, vendor-named shape keys."""

from __future__ import annotations

import math

import bpy
import numpy as np

BODY_BONES = (("root", None, (0, 0, 0), (0, 0, 0.9)), ("spine", "root", (0, 0, 0.9), (0, 0, 1.4)),
              ("neck", "spine", (0, 0, 1.4), (0, 0, 1.55)), ("head", "neck", (0, 0, 1.55), (0, 0, 1.8)))  # fmt: skip
WALK_FRAMES = 48


def mesh_object(name: str, keys: list[str], z0: float = 1.5, z1: float = 1.8) -> bpy.types.Object:
    """A small head-sized grid (4x4 vertices in the XZ plane) with shape keys ``keys``."""
    xs, zs = np.meshgrid(np.linspace(-0.1, 0.1, 4), np.linspace(z0, z1, 4))
    verts = [(float(x), -0.1, float(z)) for x, z in zip(xs.ravel(), zs.ravel(), strict=True)]
    faces = [(r * 4 + c, r * 4 + c + 1, (r + 1) * 4 + c + 1, (r + 1) * 4 + c) for r in range(3) for c in range(3)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for i, key in enumerate(keys):
        block = obj.shape_key_add(name=key, from_mix=False)
        block.data[i % 16].co.y -= 0.02
    return obj


def body_character(keys: list[str]) -> tuple[bpy.types.Object, bpy.types.Object, bpy.types.Action]:
    """(head mesh, body armature root → spine → neck → head, the artist's walk on the armature). The walk keys
    the root's location and Euler rotation and the spine, over 48 frames; bones stay in the modes the artist
    chose (head and neck XYZ Euler, spine quaternion)."""
    arm_data = bpy.data.armatures.new("Body")
    arm = bpy.data.objects.new("Body rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name, parent, head, tail in BODY_BONES:
        bone = arm_data.edit_bones.new(name)
        bone.head, bone.tail = head, tail
        if parent:
            bone.parent = arm_data.edit_bones[parent]
            bone.use_connect = True
    bpy.ops.object.mode_set(mode="OBJECT")
    pose = arm.pose.bones
    pose["root"].rotation_mode = "XYZ"
    pose["neck"].rotation_mode = pose["head"].rotation_mode = "XYZ"
    for frame in range(1, WALK_FRAMES + 1, 4):
        phase = 2 * math.pi * frame / 24
        pose["root"].location = (0.0, 0.05 * frame, 0.03 * abs(math.sin(phase)))
        pose["root"].keyframe_insert("location", frame=frame)
        pose["root"].rotation_euler = (0.0, 0.0, 0.1 * math.sin(phase))
        pose["root"].keyframe_insert("rotation_euler", frame=frame)
        pose["spine"].rotation_quaternion = (math.cos(0.05 * math.sin(phase)), 0.0, math.sin(0.05 * math.sin(phase)), 0)
        pose["spine"].keyframe_insert("rotation_quaternion", frame=frame)
    walk = arm.animation_data.action
    walk.name = "Walk"
    head = mesh_object("Character head", keys)
    for name in ("head", "neck"):
        group = head.vertex_groups.new(name=name)
        group.add(list(range(16)) if name == "head" else [0, 1, 2, 3], 1.0 if name == "head" else 0.5, "REPLACE")
    head.modifiers.new("Armature", "ARMATURE").object = arm
    head.parent = arm
    bpy.context.view_layer.objects.active = head
    head.select_set(True)
    return head, arm, walk


def animated_object(keys: list[str]) -> tuple[bpy.types.Object, bpy.types.Action]:
    """A head mesh whose object the artist animated (it slides and turns), with its own action."""
    obj = mesh_object("Sliding head", keys)
    obj.rotation_mode = "XYZ"
    for frame in (1, 20, 40):
        obj.location = (0.02 * frame, 0.0, 0.0)
        obj.rotation_euler = (0.0, 0.0, 0.01 * frame)
        obj.keyframe_insert("location", frame=frame)
        obj.keyframe_insert("rotation_euler", frame=frame)
    action = obj.animation_data.action
    action.name = "Slide"
    bpy.context.view_layer.objects.active = obj
    return obj, action


def bone_samples(arm: bpy.types.Object, frames: range) -> dict[str, np.ndarray]:
    """Every bone's evaluated pose matrix (armature space) at each of ``frames``."""
    scene = bpy.context.scene
    out: dict[str, list] = {b.name: [] for b in arm.pose.bones}
    for frame in frames:
        scene.frame_set(frame)
        for bone in arm.pose.bones:
            out[bone.name].append(np.array(bone.matrix))
    return {k: np.array(v) for k, v in out.items()}


def action_keys(action: bpy.types.Action) -> dict[tuple[str, int], np.ndarray]:
    """(data path, index) → the keys' (frame, value) pairs of every F-curve of ``action``."""
    from blender_addon import actions

    if actions.slotted_actions():
        curves = [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags
                  for c in bag.fcurves]  # fmt: skip
    else:
        curves = list(action.fcurves)
    out = {}
    for c in curves:
        co = np.empty(2 * len(c.keyframe_points), dtype=np.float32)
        c.keyframe_points.foreach_get("co", co)
        out[(c.data_path, c.array_index)] = co.reshape(-1, 2)
    return out

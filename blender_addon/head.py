"""Build a head from a rig's plain arrays: mesh, shape keys, armature, vertex groups, materials."""

from __future__ import annotations

import json
import math

import bpy
import numpy as np

from .wire import RigData

HEAD_NAMES = {"arkit": "Mouthpiece Head", "flame": "FLAME Head", "bfm": "BFM Head"}
RIG_PROP = "mouthpiece_rig"  # on the mesh object: the rig id it was built from
RIG_VERSION_PROP = "mouthpiece_rig_version"  # and the model's version, when the rig says (FLAME 2020, ...)
CORRECTIVES_PROP = "mouthpiece_correctives"  # JSON list of the joints whose R - I drive pose_* keys
RETARGETS = {("flame", "arkit"), ("bfm", "arkit"), ("arkit", "flame"), ("arkit", "bfm")}
"""(engine rig, head rig) pairs the server retargets a take between (through its ARKit head)."""


def head_rig(obj) -> str:
    """The rig a head takes: the one Add Head built it from; any other character has ARKit-named shape keys."""
    return str(obj.get(RIG_PROP, "arkit"))


PART_COLOURS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("iris", (0.18, 0.27, 0.35, 1.0)),
    ("pupil", (0.02, 0.02, 0.02, 1.0)),
    ("eye", (0.92, 0.92, 0.90, 1.0)),
    ("teeth", (0.93, 0.90, 0.82, 1.0)),
    ("tongue", (0.62, 0.26, 0.28, 1.0)),
    ("mouth", (0.45, 0.16, 0.17, 1.0)),
    ("gum", (0.65, 0.30, 0.30, 1.0)),
    ("lip", (0.70, 0.42, 0.40, 1.0)),
    ("brow", (0.25, 0.18, 0.13, 1.0)),
    ("skin", (0.80, 0.62, 0.52, 1.0)),
)
SKIN = (0.80, 0.62, 0.52, 1.0)


def corrective_name(joint: str, entry: int) -> str:
    """Shape-key name of entry ``entry`` (0..8, row-major) of joint ``joint``'s R - I."""
    return f"pose_{joint}_{entry // 3}{entry % 3}"


def _mesh(name: str, vertices: np.ndarray, faces: np.ndarray) -> bpy.types.Mesh:
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).ravel())
    faces = np.asarray(faces, dtype=np.int64)
    if faces.shape[1] == 4:
        sizes = np.where(faces[:, 3] < 0, 3, 4)
        loops = faces.ravel()[faces.ravel() >= 0]
    else:
        sizes = np.full(len(faces), 3)
        loops = faces.ravel()
    mesh.loops.add(len(loops))
    mesh.loops.foreach_set("vertex_index", loops.astype(np.int32))
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32))
    if "loop_total" in bpy.types.MeshPolygon.bl_rna.properties and not (
        bpy.types.MeshPolygon.bl_rna.properties["loop_total"].is_readonly
    ):
        mesh.polygons.foreach_set("loop_total", sizes.astype(np.int32))
    mesh.update(calc_edges=True)
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
    return mesh


def mesh_of(obj: bpy.types.Object) -> bpy.types.Mesh:
    """A mesh object's mesh (``obj.data`` is typed as any object data)."""
    assert isinstance(obj.data, bpy.types.Mesh), f"'{obj.name}' is not a mesh"
    return obj.data


def armature_of(arm: bpy.types.Object) -> bpy.types.Armature:
    """An armature object's armature."""
    assert isinstance(arm.data, bpy.types.Armature), f"'{arm.name}' is not an armature"
    return arm.data


def shape_keys_of(obj: bpy.types.Object) -> bpy.types.Key | None:
    """The shape keys of a mesh object, None for one without (or for any other object)."""
    return obj.data.shape_keys if isinstance(obj.data, bpy.types.Mesh) else None


def _material(obj: bpy.types.Object, label: str, colour: tuple[float, float, float, float]) -> int:
    mat = bpy.data.materials.new(f"{obj.name} {label}")
    mat.diffuse_color = colour
    mat.roughness = 0.6
    materials = mesh_of(obj).materials
    materials.append(mat)
    return len(materials) - 1


def _materials(obj: bpy.types.Object, rig: RigData) -> None:
    """One coloured material per mesh part (skin, eyes, teeth, ...), or a skin material. Eyeballs
    without their own iris part get an iris and a pupil painted on the faces looking forward."""
    names = rig.part_names if rig.vertex_parts is not None and rig.part_names else ["skin"]
    for part in names:
        _material(obj, part, next((c for key, c in PART_COLOURS if key in part.lower()), SKIN))
    if len(names) == 1 or rig.vertex_parts is None:
        return
    faces = rig.faces[:, :3]
    index = rig.vertex_parts[faces[:, 0]].astype(np.int32)  # a face belongs to its first vertex's part
    if not any("iris" in n or "pupil" in n for n in names):
        front = np.array([0.0, 0.0, 1.0]) if rig.up_axis == "Y" else np.array([0.0, -1.0, 0.0])
        centres = rig.vertices[faces].mean(axis=1)
        iris = pupil = -1
        for p, part in enumerate(names):
            if not part.lower().startswith("eye"):
                continue
            if iris < 0:
                iris = _material(obj, "iris", dict(PART_COLOURS)["iris"])
                pupil = _material(obj, "pupil", dict(PART_COLOURS)["pupil"])
            in_part = index == p
            centre = rig.vertices[rig.vertex_parts == p].mean(axis=0)
            direction = centres[in_part] - centre
            cos = direction @ front / np.maximum(np.linalg.norm(direction, axis=1), 1e-12)
            ids = np.flatnonzero(in_part)
            index[ids[cos > 0.88]] = iris
            index[ids[cos > 0.975]] = pupil
    mesh_of(obj).polygons.foreach_set("material_index", index)


def _shape_keys(obj: bpy.types.Object, rig: RigData) -> None:
    obj.shape_key_add(name="Basis", from_mix=False)
    base = rig.vertices.astype(np.float32)
    for name, offsets in zip(rig.channels, rig.basis, strict=True):
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", (base + offsets).ravel())
    if rig.pose_correctives is not None:
        joints = rig.joint_names[1:]
        for i, offsets in enumerate(rig.pose_correctives):
            block = obj.shape_key_add(name=corrective_name(joints[i // 9], i % 9), from_mix=False)
            block.slider_min, block.slider_max = -2.0, 2.0  # R - I entries lie in [-2, 2]
            block.data.foreach_set("co", (base + offsets).ravel())
        obj[CORRECTIVES_PROP] = json.dumps(joints)
    keys = shape_keys_of(obj)
    assert keys is not None
    keys.name = f"{obj.name} keys"
    keys.use_relative = True


def _armature(name: str, rig: RigData, collection: bpy.types.Collection) -> bpy.types.Object:
    """Bones at the joints, pointing up the rig; a bone's rest rotation is kept in its matrix_local."""
    data = bpy.data.armatures.new(f"{name} rig")
    arm = bpy.data.objects.new(f"{name} rig", data)
    collection.objects.link(arm)
    extent = float(np.ptp(rig.vertices, axis=0).max()) or 1.0
    length = 0.08 * extent
    up = np.array([0.0, 1.0, 0.0]) if rig.up_axis == "Y" else np.array([0.0, 0.0, 1.0])
    view_layer = bpy.context.view_layer
    assert view_layer is not None
    previous = view_layer.objects.active
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    assert rig.joint_positions is not None and rig.joint_parents is not None
    try:
        bones: list[bpy.types.EditBone] = []
        for j, joint in enumerate(rig.joint_names):
            bone = data.edit_bones.new(joint)
            head = np.asarray(rig.joint_positions[j], dtype=np.float64)
            bone.head = head.tolist()
            bone.tail = (head + up * length * (0.5 if j else 1.0)).tolist()
            bone.roll = 0.0
            parent = int(rig.joint_parents[j])
            if parent >= 0:
                bone.parent = bones[parent]
            bones.append(bone)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous
    data.display_type = "STICK"
    for pose_bone in pose_bones(arm):
        pose_bone.rotation_mode = "QUATERNION"
    return arm


def _vertex_groups(obj: bpy.types.Object, rig: RigData) -> None:
    weights = np.asarray(rig.skin_weights, dtype=np.float32)
    for j, joint in enumerate(rig.joint_names):
        group = obj.vertex_groups.new(name=joint)
        column = weights[:, j]
        nonzero = np.flatnonzero(column > 1e-6)
        # vertices sharing a weight go in one call (rigid parts are mostly weight 1)
        values, inverse = np.unique(column[nonzero], return_inverse=True)
        for k, value in enumerate(values):
            group.add(nonzero[inverse == k].tolist(), float(value), "REPLACE")


def build_head(
    rig: RigData, name: str = "Mouthpiece Head", collection: bpy.types.Collection | None = None
) -> bpy.types.Object:
    """Build ``rig`` as a mesh object (returned) with shape keys, and when it has joints an
    armature parent with the rig's skinning weights. Y-up rigs are stood up on Blender's Z."""
    collection = collection or current_scene().collection
    obj = bpy.data.objects.new(name, _mesh(name, rig.vertices, rig.faces))
    collection.objects.link(obj)
    obj[RIG_PROP] = rig.name
    if rig.meta.get("version"):
        obj[RIG_VERSION_PROP] = str(rig.meta["version"])
    _materials(obj, rig)
    _shape_keys(obj, rig)
    root = obj
    if rig.joint_names:
        arm = _armature(name, rig, collection)
        _vertex_groups(obj, rig)
        obj.parent = arm
        modifier = obj.modifiers.new("Armature", "ARMATURE")
        assert isinstance(modifier, bpy.types.ArmatureModifier)
        modifier.object = arm
        root = arm
    if rig.up_axis == "Y":
        root.rotation_euler = (math.pi / 2, 0.0, 0.0)
    return obj


def current_scene() -> bpy.types.Scene:
    """The context's scene (Blender always has one where the add-on runs)."""
    scene = bpy.context.scene
    assert scene is not None, "no scene in this context"
    return scene


def pose_bones(arm: bpy.types.Object) -> bpy.types.bpy_prop_collection[bpy.types.PoseBone]:
    """An armature object's pose bones."""
    assert arm.pose is not None, f"'{arm.name}' has no pose"
    return arm.pose.bones


def head_armature(obj: bpy.types.Object) -> bpy.types.Object | None:
    """The armature deforming ``obj`` (its Armature modifier's, or an armature parent)."""
    for modifier in obj.modifiers:
        if isinstance(modifier, bpy.types.ArmatureModifier) and modifier.object is not None:
            return modifier.object
    if obj.parent is not None and obj.parent.type == "ARMATURE":
        return obj.parent
    return None


def head_ids(obj: bpy.types.Object) -> dict[str, bpy.types.Object | bpy.types.Key]:
    """The data-blocks a take animates, by role: shape_keys, bones (armature), object."""
    ids: dict[str, bpy.types.Object | bpy.types.Key] = {"object": obj}
    keys = shape_keys_of(obj)
    if keys is not None:
        ids["shape_keys"] = keys
    arm = head_armature(obj) if obj.type == "MESH" else None
    if arm is not None:
        ids["bones"] = arm
    return ids

"""Preview rendering: a camera framing the face, a light, and Workbench video output with sound."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import bpy
import numpy as np
from mathutils import Vector

FOCAL_MM = 85.0
SENSOR_MM = 36.0
HEAD_HEIGHT = 0.72  # of the frame's height
HEADROOM = 0.06


def _world_bounds(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    return corners.min(axis=0), corners.max(axis=0)


def face_bounds(obj: bpy.types.Object, head_bone: str = "") -> tuple[np.ndarray, np.ndarray]:
    """World bounds of the head: the vertices the head bone moves (weight ≥ 0.5 in its group) when ``obj`` is a
    whole character, else the object's bounds."""
    group = obj.vertex_groups.get(head_bone) if head_bone and obj.type == "MESH" else None
    if group is not None:
        index = group.index
        co = [v.co for v in obj.data.vertices if any(g.group == index and g.weight >= 0.5 for g in v.groups)]
        if len(co) >= 4:
            world = np.array([obj.matrix_world @ c for c in co])
            return world.min(axis=0), world.max(axis=0)
    return _world_bounds(obj)


def frame_camera(scene: bpy.types.Scene, obj: bpy.types.Object, head_bone: str = "") -> bpy.types.Object:
    """A camera in front of the face (-Y, Blender's front view), a head-and-shoulders close-up: the head
    fills about 72% of the frame's height under a little headroom, the neck and shoulders below it."""
    view_layer = bpy.context.view_layer
    assert view_layer is not None
    view_layer.update()
    lo, hi = face_bounds(obj, head_bone)
    centre, size = (lo + hi) / 2, hi - lo
    half_fov = math.atan(SENSOR_MM / 2 / FOCAL_MM)
    aspect = scene.render.resolution_x / max(scene.render.resolution_y, 1)
    frame_height = max(size[2] / HEAD_HEIGHT, size[0] * 1.15 / aspect)
    half_extent = 0.5 * frame_height * (aspect if aspect >= 1.0 else 1.0)  # the sensor fits the longer side
    target_z = hi[2] + HEADROOM * frame_height - frame_height / 2
    distance = half_extent / math.tan(half_fov) + size[1] / 2
    data = bpy.data.cameras.new("Mouthpiece Camera")
    data.lens, data.sensor_width, data.sensor_fit = FOCAL_MM, SENSOR_MM, "AUTO"
    data.clip_start, data.clip_end = distance / 100, distance * 10
    camera = bpy.data.objects.new("Mouthpiece Camera", data)
    scene.collection.objects.link(camera)
    camera.location = (centre[0], lo[1] + size[1] / 2 - distance, target_z)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = camera
    return camera


def add_key_light(scene: bpy.types.Scene, obj: bpy.types.Object) -> bpy.types.Object:
    """An area light above-left of the camera (for EEVEE/Cycles; Workbench uses studio light)."""
    lo, hi = _world_bounds(obj)
    centre, size = (lo + hi) / 2, float(np.max(hi - lo))
    data = cast(bpy.types.AreaLight, bpy.data.lights.new("Mouthpiece Key Light", "AREA"))
    data.energy, data.size = 60.0 * size**2 / 0.04, size
    light = bpy.data.objects.new("Mouthpiece Key Light", data)
    scene.collection.objects.link(light)
    light.location = (centre[0] - size, centre[1] - 2 * size, centre[2] + size)
    direction = Vector(centre) - light.location
    light.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    return light


def setup_preview_render(scene: bpy.types.Scene, filepath: str, resolution: tuple[int, int] = (640, 640)) -> None:
    """Workbench (fast, no GPU needed) to an H.264 .mp4 with the scene's sound in AAC."""
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"  # type: ignore[assignment]  # the stubs list EEVEE only
    render.resolution_x, render.resolution_y = resolution
    render.resolution_percentage = 100
    display = scene.display
    assert display is not None and display.shading is not None
    display.shading.light = "STUDIO"
    display.shading.color_type = "MATERIAL"
    display.shading.show_cavity = False
    display.render_aa = "FXAA"  # 8x multisampling costs 2.5x the CPU for little gain here
    if scene.world is None:
        scene.world = bpy.data.worlds.new("Mouthpiece World")
    scene.world.color = (0.06, 0.065, 0.075)
    assert scene.view_settings is not None
    scene.view_settings.view_transform = "Standard"  # type: ignore[assignment]  # the stubs list NONE only
    settings = render.image_settings
    if hasattr(settings, "media_type"):  # 5.0: choose video before the container
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = render.ffmpeg
    assert ffmpeg is not None
    ffmpeg.format, ffmpeg.codec = "MPEG4", "H264"
    ffmpeg.constant_rate_factor, ffmpeg.ffmpeg_preset = "MEDIUM", "REALTIME"
    ffmpeg.audio_codec, ffmpeg.audio_channels, ffmpeg.audio_mixrate = "AAC", "MONO", 48000
    ffmpeg.audio_bitrate = 128
    render.filepath = filepath
    render.use_file_extension = False


# what setup_preview_render changes, so that a preview from the sidebar can put the artist's settings back
PREVIEW_SETTINGS: tuple[str, ...] = (
    "render.engine", "render.resolution_x", "render.resolution_y", "render.resolution_percentage",
    "render.filepath", "render.use_file_extension", "render.image_settings.file_format",
    "render.ffmpeg.format", "render.ffmpeg.codec", "render.ffmpeg.constant_rate_factor",
    "render.ffmpeg.ffmpeg_preset", "render.ffmpeg.audio_codec", "render.ffmpeg.audio_channels",
    "render.ffmpeg.audio_mixrate", "render.ffmpeg.audio_bitrate", "display.shading.light",
    "display.shading.color_type", "display.shading.show_cavity", "display.render_aa",
    "view_settings.view_transform",
)  # fmt: skip


def _resolve(scene: bpy.types.Scene, path: str) -> tuple[object, str]:
    owner, _, name = path.rpartition(".")
    target = scene
    for part in owner.split("."):
        target = getattr(target, part)
    return target, name


def snapshot_settings(scene: bpy.types.Scene) -> list[tuple[str, object]]:
    """The scene's current values of what a preview render changes (media type first, on 5.0)."""
    paths = ["render.image_settings.media_type"] if hasattr(scene.render.image_settings, "media_type") else []
    return [(p, getattr(*_resolve(scene, p))) for p in (*paths, *PREVIEW_SETTINGS)]


def restore_settings(scene: bpy.types.Scene, snapshot: list[tuple[str, object]]) -> None:
    for path, value in snapshot:
        setattr(*_resolve(scene, path), value)


def preview_session(
    scene: bpy.types.Scene,
    obj: bpy.types.Object | None,
    filepath: str,
    resolution: tuple[int, int],
    head_bone: str = "",
) -> Callable[[], None]:
    """Set the scene up for a preview of ``obj``'s face (its own camera, Workbench, video with sound); returns
    the function that puts every setting it touched back (camera, world and its colour, render settings)
    and removes what it added."""
    snapshot = snapshot_settings(scene)
    camera, world = scene.camera, scene.world
    colour = (world.color.r, world.color.g, world.color.b) if world is not None else None
    worlds = set(bpy.data.worlds)
    setup_preview_render(scene, filepath, resolution)
    added = frame_camera(scene, obj, head_bone) if obj is not None else None

    def restore() -> None:
        restore_settings(scene, snapshot)
        scene.camera = camera
        scene.world = world
        if world is not None and colour is not None:
            world.color = colour
        for made in set(bpy.data.worlds) - worlds:
            bpy.data.worlds.remove(made)
        if added is not None:
            data = added.data
            bpy.data.objects.remove(added)
            if isinstance(data, bpy.types.Camera):
                bpy.data.cameras.remove(data)

    return restore


def render_animation(scene: bpy.types.Scene) -> None:
    """Render the scene's frame range with its current settings (blocking)."""
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(animation=True, scene=scene.name)

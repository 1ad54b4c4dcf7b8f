"""Preview rendering: a camera framing the face, a light, and Workbench video output with sound."""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Vector

FOCAL_MM = 85.0
SENSOR_MM = 36.0


def _world_bounds(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    return corners.min(axis=0), corners.max(axis=0)


def frame_camera(scene: bpy.types.Scene, obj: bpy.types.Object, margin: float = 1.25) -> bpy.types.Object:
    """A camera in front of the face (-Y, Blender's front view) that frames ``obj`` with a margin."""
    bpy.context.view_layer.update()
    lo, hi = _world_bounds(obj)
    centre, size = (lo + hi) / 2, hi - lo
    half_fov = math.atan(SENSOR_MM / 2 / FOCAL_MM)
    aspect = scene.render.resolution_x / max(scene.render.resolution_y, 1)
    half_extent = 0.5 * margin * max(size[0] / min(aspect, 1.0), size[2] * max(aspect, 1.0))
    distance = half_extent / math.tan(half_fov) + size[1] / 2
    data = bpy.data.cameras.new("Mouthpiece Camera")
    data.lens, data.sensor_width, data.sensor_fit = FOCAL_MM, SENSOR_MM, "AUTO"
    data.clip_start, data.clip_end = distance / 100, distance * 10
    camera = bpy.data.objects.new("Mouthpiece Camera", data)
    scene.collection.objects.link(camera)
    camera.location = (centre[0], centre[1] - distance, centre[2])
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = camera
    return camera


def add_key_light(scene: bpy.types.Scene, obj: bpy.types.Object) -> bpy.types.Object:
    """An area light above-left of the camera (for EEVEE/Cycles; Workbench uses studio light)."""
    lo, hi = _world_bounds(obj)
    centre, size = (lo + hi) / 2, float(np.max(hi - lo))
    data = bpy.data.lights.new("Mouthpiece Key Light", "AREA")
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
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y = resolution
    render.resolution_percentage = 100
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_cavity = False
    scene.display.render_aa = "FXAA"  # 8x multisampling costs 2.5x the CPU for little gain here
    if scene.world is None:
        scene.world = bpy.data.worlds.new("Mouthpiece World")
    scene.world.color = (0.06, 0.065, 0.075)
    scene.view_settings.view_transform = "Standard"
    settings = render.image_settings
    if hasattr(settings, "media_type"):  # 5.0: choose video before the container
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = render.ffmpeg
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


def render_animation(scene: bpy.types.Scene) -> None:
    """Render the scene's frame range with its current settings (blocking)."""
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(animation=True, scene=scene.name)

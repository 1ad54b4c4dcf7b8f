"""`mouthpiece bench bake`: the add-on's bulk bake of a take against Blender's keyframe_insert.

A head with CHANNELS shape keys is keyed over FRAMES frames by ``bake_track`` (fcurve ``foreach_set``,
handles included). keyframe_insert is timed on a few frames of the same channels and scaled up
(inserting every key one by one takes about a minute at the defaults). CPU time, so that a busy
machine does not skew the figures. Needs the bpy module.

    mouthpiece bench bake [--channels 100] [--frames 1800] [--sampled 60] [--json]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

TARGET_BULK_S = 0.15
"""CPU seconds to bake 100 channels x 1800 frames (60 s at 30 fps) in bulk."""


def measure(channels: int, frames: int, sampled: int) -> dict[str, Any]:
    """Bake ``channels`` x ``frames`` in bulk, then key ``sampled`` frames one by one; the figures."""
    import bpy

    from blender_addon.bake import bake_track
    from blender_addon.head import current_scene, shape_keys_of
    from blender_addon.wire import TrackData

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = current_scene()
    scene.render.fps, scene.render.fps_base = 30, 1.0  # the take's rate: one key per frame
    mesh = bpy.data.meshes.new("bench")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("bench", mesh)
    scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    names = [f"exp{c:03d}" for c in range(channels)]
    for name in names:
        obj.shape_key_add(name=name, from_mix=False)
    values = np.random.default_rng(0).random((frames, channels)).astype(np.float32)
    track = TrackData(fps=30.0, rig="bench", channels=names, values=values)

    started = time.process_time()
    result = bake_track(obj, track, frame_start=1)
    bulk = time.process_time() - started
    if result.frame_end != frames or result.keyed_channels != channels:
        raise RuntimeError(f"the bake keyed {result.keyed_channels} channels to frame {result.frame_end}")

    keys = shape_keys_of(obj)
    assert keys is not None
    blocks = keys.key_blocks
    started = time.process_time()
    for f in range(sampled):
        for c in range(channels):
            blocks[c + 1].value = float(values[f, c])
            blocks[c + 1].keyframe_insert("value", frame=frames + 10 + f)
    insert = (time.process_time() - started) / (sampled * channels) * frames * channels
    return {
        "channels": channels,
        "frames": frames,
        "bulk_bake_cpu_s": round(bulk, 4),
        "keyframe_insert_cpu_s_scaled": round(insert, 2),
        "speedup": round(insert / bulk, 1),
        "bulk_target_s": TARGET_BULK_S if (channels, frames) == (100, 1800) else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece bench bake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=100, help="shape keys to key (default 100)")
    parser.add_argument("--frames", type=int, default=1800, help="frames of the take (default 1800: 60 s at 30 fps)")
    parser.add_argument("--sampled", type=int, default=60, help="frames keyed one by one for the comparison")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    if min(args.channels, args.frames, args.sampled) < 1:
        parser.error("--channels, --frames and --sampled must be at least 1")
    from bench.figures import print_figures

    print_figures(measure(args.channels, args.frames, args.sampled), args.json)
    return 0

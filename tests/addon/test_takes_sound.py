"""Takes are new actions; the artist's action survives; takes switch and push to the NLA; sound strips."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.bake import bake_track
from blender_addon.head import build_head, head_ids
from blender_addon.sound import place_sound, sound_strips
from blender_addon.wire import read_rig, read_track
from core.audio import write_wav

from .characters import action_keys
from .conftest import grid_rig, random_track


def test_each_take_is_a_new_action_and_the_artists_action_is_kept(scene):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    key = obj.data.shape_keys
    # the artist keyed the smile by hand
    key.key_blocks["mouthSmileLeft"].value = 0.3
    key.key_blocks["mouthSmileLeft"].keyframe_insert("value", frame=1)
    artist = key.animation_data.action
    artist.name = "my hand-keyed smile"
    artist_keys = action_keys(artist)

    first = bake_track(obj, read_track(random_track(seed=1).to_npz_bytes()), frame_start=1)
    first_action = key.animation_data.action
    first_keys = action_keys(first_action)
    second = bake_track(obj, read_track(random_track(seed=2).to_npz_bytes()), frame_start=5)

    assert (first.take, second.take) == (1, 2)
    assert second.name == "MP builtin happy 0.7 #2" and key.animation_data.action.name == second.name
    assert bpy.data.actions[first.name] == first_action
    for name, co in first_keys.items():
        np.testing.assert_array_equal(action_keys(first_action)[name], co)  # untouched by the second take
    assert bpy.data.actions.get("my hand-keyed smile") == artist and artist.use_fake_user
    assert not actions.is_take(artist)
    assert action_keys(artist).keys() == artist_keys.keys()
    for name, co in artist_keys.items():
        np.testing.assert_array_equal(action_keys(artist)[name], co)
    assert actions.takes_of(obj.name) == [(1, first.name), (2, second.name)]

    actions.use_take(1, head_ids(obj))
    assert key.animation_data.action == first_action
    assert head_ids(obj)["bones"].animation_data.action[actions.TAKE_PROP] == 1
    scene.frame_set(1)
    assert key.key_blocks["jawOpen"].value == pytest.approx(
        first_keys[('key_blocks["jawOpen"].value', 0)][0, 1], abs=1e-6
    )

    assert actions.push_to_nla(head_ids(obj)) == 2
    assert key.animation_data.action is None
    track = key.animation_data.nla_tracks[-1]
    assert track.strips[0].action == first_action and track.strips[0].frame_start == 1


def test_takes_survive_save_and_reload(scene, tmp_path):
    obj = build_head(read_rig(grid_rig().to_npz_bytes()))
    bake_track(obj, read_track(random_track(seed=1).to_npz_bytes()), frame_start=1)
    bake_track(obj, read_track(random_track(seed=2).to_npz_bytes()), frame_start=1)
    path = tmp_path / "takes.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert [n for _, n in actions.takes_of("Mouthpiece Head")] == ["MP builtin happy 0.7 #1", "MP builtin happy 0.7 #2"]


@pytest.mark.skipif(not bpy.app.build_options.audaspace, reason="this bpy build has no audio (bpy 4.2 from PyPI)")
def test_sound_strip_at_the_start_frame_grows_the_range(scene, tmp_path):
    wav = tmp_path / "beep.wav"
    write_wav(wav, 0.1 * np.sin(np.arange(32000) / 16000 * 2 * np.pi * 220).astype(np.float32))  # 2 s
    strip = place_sound(scene, str(wav), 25, name="beep")
    assert sound_strips(scene) == [strip]
    assert strip.frame_start == 25 and strip.frame_final_duration == 60  # 2 s at 30 fps
    assert (scene.frame_start, scene.frame_end) == (1, 84)
    assert bpy.path.abspath(strip.sound.filepath) == str(wav) and strip.channel == 1
    overlapping = place_sound(scene, str(wav), 40)
    later = place_sound(scene, str(wav), 85)
    assert (overlapping.channel, overlapping.frame_start) == (2, 40)
    assert (later.channel, later.frame_start) == (1, 85)
    assert scene.frame_end == 85 + 60 - 1


def test_preview_settings_are_put_back(scene):
    from blender_addon.preview import restore_settings, setup_preview_render, snapshot_settings

    scene.render.engine, scene.render.resolution_x = (
        "BLENDER_EEVEE_NEXT" if bpy.app.version < (4, 3) else "BLENDER_EEVEE",
        1234,
    )
    snapshot = snapshot_settings(scene)
    setup_preview_render(scene, "/tmp/preview.mp4", (320, 240))
    assert (scene.render.engine, scene.render.resolution_x, scene.render.image_settings.file_format) == (
        "BLENDER_WORKBENCH", 320, "FFMPEG")  # fmt: skip
    restore_settings(scene, snapshot)
    assert scene.render.resolution_x == 1234 and scene.render.engine.startswith("BLENDER_EEVEE")
    assert scene.render.image_settings.file_format == "PNG"

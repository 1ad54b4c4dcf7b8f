"""`mouthpiece blend` end to end: the builtin engine in-process, the add-on's build/bake in the bpy module."""

from __future__ import annotations

from pathlib import Path

import av
import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.sound import sound_strips
from cli.main import main
from core.audio import SAMPLE_RATE, load_audio, write_wav

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 2 s of examples/hello.wav ("Hello! My name is...")."""
    path = tmp_path_factory.mktemp("clip") / "hello2s.wav"
    write_wav(path, load_audio(HELLO)[: 2 * SAMPLE_RATE])
    return path


def test_blend_writes_a_scene_that_reopens_with_the_animation(clip, tmp_path, capsys):
    out = tmp_path / "scene.blend"
    code = main(["blend", str(clip), "-o", str(out), "--transcript", "Hello my name is", "--emotion", "happy",
                 "--intensity", "0.6", "--start-frame", "5", "--fps", "24", "-q"])  # fmt: skip
    assert code == 0 and out.is_file() and not out.with_suffix(".blend1").exists()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    head = bpy.data.objects["Mouthpiece Head"]
    assert scene.render.fps == 24 and scene.camera is not None
    assert actions.takes_of(head.name) == [(1, "MP builtin happy 0.6 #1")]
    keys = head.data.shape_keys
    assert keys.animation_data.action.name == "MP builtin happy 0.6 #1"
    assert (scene.frame_start, scene.frame_end) == (5, 5 + 48 - 1)  # 2 s at 24 fps
    jaw = []
    for frame in range(5, 53, 2):
        scene.frame_set(frame)
        jaw.append(keys.key_blocks["jawOpen"].value)
    assert max(jaw) > 0.1 and np.std(jaw) > 0.02  # the mouth moves while speaking
    [strip] = sound_strips(scene)
    assert strip.frame_start == 5 and strip.sound.packed_file is not None
    assert scene.render.resolution_x == 640 and scene.render.image_settings.file_format == "FFMPEG"
    assert scene.render.filepath == "//scene.mp4"  # beside the .blend
    assert scene.sync_mode == "AUDIO_SYNC"  # playback keeps to the sound


def test_blend_takes_fractional_frame_rates(clip, tmp_path):
    from cli.commands.blend import scene_rate

    assert (scene_rate(30.0), scene_rate(23.976), scene_rate(29.97), scene_rate(12.5)) == (
        (30, 1.0), (24, 1.001), (30, 1.001), (13, 13 / 12.5))  # fmt: skip
    out = tmp_path / "ntsc.blend"
    assert main(["blend", str(clip), "-o", str(out), "--fps", "23.976", "-q"]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    assert (scene.render.fps, scene.render.fps_base) == (24, pytest.approx(1.001))
    assert scene.frame_end - scene.frame_start + 1 == 48  # 2 s at 23.976 fps (47.95 frames, the last included)
    keys = bpy.data.objects["Mouthpiece Head"].data.shape_keys
    meta = actions.take_meta(keys.animation_data.action)
    assert meta["fps"] == pytest.approx(23.976, abs=1e-3)


def test_blend_refuses_bad_arguments_in_one_line(clip, tmp_path, capsys):
    assert main(["blend", str(clip), "-o", str(tmp_path / "scene.txt")]) == 2
    assert capsys.readouterr().err.strip() == "mouthpiece blend: error: the output must end in .blend, not '.txt'"
    assert main(["blend", str(tmp_path / "none.wav"), "-o", str(tmp_path / "s.blend")]) == 2
    assert "audio file not found" in capsys.readouterr().err
    assert main(["blend", str(clip), "-o", str(tmp_path / "s.blend"), "--resolution", "big"]) == 2
    assert "--resolution must look like 640x640" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["blend", str(clip), "-o", str(tmp_path / "s.blend"), "--fps", "fast"])
    assert "must be a frame rate like 24, 23.976 or 29.97, not 'fast'" in capsys.readouterr().err


@pytest.mark.slow
def test_blend_renders_a_video_with_sound(clip, tmp_path):
    out, video = tmp_path / "scene.blend", tmp_path / "preview.mp4"
    code = main(["blend", str(clip), "-o", str(out), "--video", str(video), "--resolution", "160x160",
                 "--fps", "12", "-q"])  # fmt: skip
    assert code == 0 and video.is_file()
    with av.open(str(video)) as container:
        kinds = {s.type: s for s in container.streams}
        assert set(kinds) == {"video", "audio"}
        assert kinds["video"].codec_context.name == "h264" and kinds["audio"].codec_context.name == "aac"
        assert (kinds["video"].codec_context.width, kinds["video"].codec_context.height) == (160, 160)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 24  # 2 s at 12 fps
    middle = frames[12]
    assert middle.std() > 10  # a face on the background, not a blank frame

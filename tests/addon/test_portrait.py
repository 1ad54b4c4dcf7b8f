"""Head motion choice and Render Portrait Video: params, the movie strip, and the whole round trip
against a real server (SadTalker with random weights, the fixture's small renderer)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_addon import actions
from blender_addon.bake import bake_track
from blender_addon.head import build_head, head_ids
from blender_addon.server_link import session
from blender_addon.sound import place_movie, sound_strips
from blender_addon.takes import job_params, portrait_take
from blender_addon.wire import read_rig, read_track
from core.audio import SAMPLE_RATE, write_wav
from core.render.video import Mp4Writer
from core.testing.signals import speech_like
from tests.core.sadtalker_layout import write_weights
from tests.server.test_server import serve

from .conftest import enabled_addon, grid_rig, random_track


def _mp4(path: Path, frames: int, audio_seconds: float | None) -> Path:
    sound = None if audio_seconds is None else np.full(int(audio_seconds * SAMPLE_RATE), 0.01, np.float32)
    with Mp4Writer(path, 30, 64, sound) as writer:
        writer.write(np.zeros((frames, 64, 64, 3), np.uint8))
    return path


def test_place_movie_puts_video_and_sound_at_the_start_frame(scene, tmp_path):
    talk = _mp4(tmp_path / "talk.mp4", 15, 0.5)
    movie, sound = place_movie(scene, str(talk), 12, "take video")
    assert (movie.type, int(movie.frame_start), movie.frame_final_duration) == ("MOVIE", 12, 15)
    assert sound is not None and (sound.type, int(sound.frame_start)) == ("SOUND", 12)
    assert sound.frame_final_duration == 15 and sound.channel != movie.channel
    assert (scene.frame_start, scene.frame_end) == (1, 26)
    again, again_sound = place_movie(scene, str(talk), 20, "second")
    assert again.channel not in (movie.channel, sound.channel), "overlapping strips get channels of their own"
    assert again_sound is not None and again_sound.channel not in (movie.channel, sound.channel, again.channel)
    silent, none = place_movie(scene, str(_mp4(tmp_path / "silent.mp4", 5, None)), 40, "silent")
    assert none is None and silent.frame_final_duration == 5 and scene.frame_end == 44
    assert [s.name for s in sound_strips(scene)] == ["take video sound", "second sound"]


def test_head_motion_choice_goes_into_the_params(scene):
    with enabled_addon():
        settings = scene.mouthpiece
        assert settings.head_motion_source == "ENGINE" and settings.pose_style == 0
        assert job_params(settings)["head_motion"] is True and "pose_style" not in job_params(settings)
        settings.head_motion_source, settings.pose_style = "SADTALKER", 45
        params = job_params(settings)
        assert (params["head_motion"], params["pose_style"]) == ("sadtalker", 45)
        settings.pose_style = 99
        assert settings.pose_style == 45, "the slider stops at SadTalker's last pose style"
        settings.head_motion = False
        assert job_params(settings)["head_motion"] is False and "pose_style" not in job_params(settings)


def _bfm_head() -> bpy.types.Object:
    rig = grid_rig(name="bfm", joints=False)
    channels = [f"exp{i:02d}" for i in range(64)]
    basis = np.random.default_rng(0).normal(0, 0.01, (64, *rig.vertices.shape)).astype(np.float32)
    head = build_head(read_rig(dataclasses.replace(rig, channels=channels, basis=basis).to_npz_bytes()), name="BFM")
    bpy.context.view_layer.objects.active = head
    return head


def test_only_bfm_takes_from_the_server_can_be_rendered(scene):
    head = build_head(read_rig(grid_rig().to_npz_bytes()), name="Head")
    assert portrait_take(head)[1].startswith("'Head' has no active take")
    number = bake_track(head, read_track(random_track().to_npz_bytes()), frame_start=1).take
    actions.tag_take(number, "abc", "arkit")
    assert "this take is for the 'arkit' rig" in portrait_take(head)[1]
    actions.tag_take(number, "", "bfm")
    assert "has no server job" in portrait_take(head)[1]
    actions.tag_take(number, "abc", "bfm")
    assert portrait_take(head) == (actions.current_take(head_ids(head)), "")


@pytest.mark.slow
def test_generate_then_render_portrait_video(scene, tmp_path, reference_dir, samples_dir, monkeypatch):
    """Generate a SadTalker take on a BFM head, then Render Portrait Video: the mp4 lands in the sequencer."""
    models = tmp_path / "models"
    (models / "sadtalker").mkdir(parents=True)
    write_weights(models / "sadtalker" / "SadTalker_V0.0.2_256.safetensors", seed=3)
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(models))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where an unsaved file's videos go
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech_like(1.4, seed=4))
    scene.render.fps = 12  # few frames for the small CPU renderer
    renderer = {
        "renderer_checkpoint": reference_dir / "pirender_small.pt",
        "renderer_config": reference_dir / "pirender_small_config.json",
    }
    with serve(tmp_path / "data", **renderer) as srv, enabled_addon() as prefs:
        prefs.server_url = srv.url
        bpy.ops.mouthpiece.check_server()
        head = _bfm_head()
        settings = scene.mouthpiece
        settings.engine, settings.audio_file, settings.start_frame = "sadtalker", str(wav), 5
        settings.head_motion_source, settings.pose_style = "SADTALKER", 6
        assert not bpy.ops.mouthpiece.render_portrait.poll(), "no take yet"
        assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
        take = actions.current_take(head_ids(head))
        assert take[actions.TRACK_RIG_PROP] == "bfm" and len(take[actions.JOB_PROP]) == 32
        assert actions.take_meta(take)["pose_style"] == 6
        last_frame = int(take.frame_range[1])

        with pytest.raises(RuntimeError, match="choose a portrait image first"):
            bpy.ops.mouthpiece.render_portrait()
        settings.portrait_image = str(samples_dir / "source_video" / "image" / "KristiNoem.png")
        assert bpy.ops.mouthpiece.render_portrait() == {"FINISHED"}, session().render.error
    editor = scene.sequence_editor
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    [movie] = [s for s in strips if s.type == "MOVIE"]
    assert movie.name == f"{take.name} video" and int(movie.frame_start) == 5
    assert int(movie.frame_final_end) - 1 == last_frame, "one video frame per frame of the take"
    path = bpy.path.abspath(movie.filepath)
    assert os.path.dirname(path) == str(tmp_path / "mouthpiece_videos") and os.path.getsize(path) > 0
    sounds = [s for s in sound_strips(scene) if s.name == f"{take.name} video sound"]
    assert len(sounds) == 1 and int(sounds[0].frame_start) == 5
    assert session().render.status.startswith(f"{take.name} video: frames 5–{last_frame} from ")

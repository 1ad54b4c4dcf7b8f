"""The `sadtalker` engine and PoseVAE head motion for any engine's track (small random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.adapters.bfm_pose import angles_to_rotvec
from core.engines import get_engine
from core.engines.base import EngineOptions
from core.engines.sadtalker.audio import mel_windows
from core.engines.sadtalker.engine import BLINK, blink_ratio, blink_schedule, predict_expression
from core.engines.sadtalker.headmotion import add_head_motion
from core.engines.sadtalker.loader import load_expnet, load_posevae
from core.engines.sadtalker.posevae import predict_pose
from core.errors import InputError, ModelMissingError
from core.pipeline import AnimateRequest, animate
from core.resample import output_frame_count
from core.testing.signals import speech_like
from core.track import Track
from tests.core.sadtalker_layout import write_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return write_weights(tmp_path_factory.mktemp("sadtalker") / "SadTalker_V0.0.2_256.safetensors", seed=5)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return speech_like(1.5, seed=2)  # 37 frames at 25 fps: one whole PoseVAE window and a tail


@pytest.mark.slow
def test_sadtalker_engine_track(weights, audio):
    engine = get_engine("sadtalker", checkpoint=weights)
    assert engine.status() == (True, f"weights: {weights}")
    assert engine.describe()["pose_styles"] == list(range(46))
    track = engine.run(audio, EngineOptions(seed=9, extra={"pose_style": 4}))
    assert (track.rig, track.fps, track.num_frames) == ("bfm", 25.0, 37)
    assert track.channels == [f"exp{i:02d}" for i in range(64)]
    assert set(track.rotations) == {"head"} and track.translation.shape == (37, 3)
    mels = mel_windows(audio)
    pose = predict_pose(load_posevae(weights), mels, 4, 9)
    np.testing.assert_allclose(track.rotations["head"], angles_to_rotvec(pose[:, :3]), atol=1e-6)
    np.testing.assert_allclose(track.translation, pose[:, 3:], atol=1e-6)
    ratio = blink_ratio(37, {}, 9)
    exp = predict_expression(load_expnet(weights), mels, np.zeros(64, np.float32), ratio)
    np.testing.assert_allclose(track.values, exp, atol=1e-6)
    assert track.meta["pose_style"] == 4 and track.meta["engine"] == "sadtalker" and track.meta["blinks"]
    again = engine.run(audio, EngineOptions(seed=9, extra={"pose_style": 4}))
    np.testing.assert_array_equal(again.rotations["head"], track.rotations["head"])


@pytest.mark.slow
def test_sadtalker_engine_options(weights, audio):
    engine = get_engine("sadtalker", checkpoint=weights)
    base = engine.run(audio, EngineOptions(seed=1))
    still = engine.run(audio, EngineOptions(seed=1, extra={"head_motion": False}))
    assert still.rotations == {} and still.translation is None
    np.testing.assert_array_equal(still.values, base.values)
    no_blinks = engine.run(audio, EngineOptions(seed=1, extra={"blinks": False}))
    assert not no_blinks.meta["blinks"] and np.abs(no_blinks.values - base.values).max() > 1e-4
    ref = engine.run(audio, EngineOptions(seed=1, extra={"ref_exp": [0.5] * 64}))
    assert np.abs(ref.values - base.values).max() > 1e-4
    assert engine.run(audio, EngineOptions(seed=1, fps=30)).fps == 25, "the pipeline resamples, not the engine"
    at30 = animate(engine, audio, AnimateRequest(engine="sadtalker", seed=1, fps=30))
    assert at30.fps == 30 and at30.num_frames == output_frame_count(37, 25, 30)
    np.testing.assert_allclose(at30.values[6], base.values[5], atol=1e-6)  # 0.2 s is a shared frame time
    for extra, message in [
        ({"pose_style": 46}, "pose style"),
        ({"blink_ratio": -1}, "blink_ratio"),
        ({"blink_ratio": [1.0, 0.0]}, "one finite number per 25 fps frame"),
        ({"ref_exp": [0.0] * 3}, "ref_exp"),
    ]:
        with pytest.raises(InputError, match=message):
            engine.run(audio, EngineOptions(extra=extra))
    with pytest.raises(InputError, match="too short"):
        engine.run(audio[:1200], EngineOptions())


def test_sadtalker_blink_schedule():
    rng = np.random.default_rng(0)
    assert not blink_schedule(20, rng).any() and not blink_schedule(21, rng).any()
    ratio = blink_schedule(500, np.random.default_rng(4))
    starts = np.flatnonzero((ratio == 0.5) & (np.r_[0.0, ratio[:-1]] == 0))
    assert len(starts) >= 5 and ratio[-1] == 0
    for s in starts:
        np.testing.assert_allclose(ratio[s : s + 5], BLINK)
    gaps = np.diff(np.r_[-5, starts]) - 5
    assert gaps.min() >= 10 and gaps.max() < 70
    np.testing.assert_array_equal(blink_schedule(500, np.random.default_rng(4)), ratio)
    np.testing.assert_allclose(blink_ratio(500, {"blink_ratio": 0.5}, 4), ratio * 0.5)
    assert not blink_ratio(500, {"blinks": False}, 4).any()


def test_sadtalker_engine_without_weights(tmp_path, monkeypatch, audio):
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path))
    engine = get_engine("sadtalker")
    ready, message = engine.status()
    expected = tmp_path / "sadtalker" / "SadTalker_V0.0.2_256.safetensors"
    assert not ready and str(expected) in message
    with pytest.raises(ModelMissingError, match="SadTalker weights missing"):
        engine.run(audio, EngineOptions())


@pytest.mark.slow
def test_sadtalker_head_motion_on_another_engines_track(weights, tmp_path):
    """End to end: the builtin engine's 30 fps ARKit track gets PoseVAE's head rotation; saved, reloaded."""
    audio = speech_like(1.5, seed=3)
    track = get_engine("builtin").run(audio, EngineOptions(seed=2, fps=30))
    moved = add_head_motion(track, audio, 12, 7, weights_path=weights)
    assert moved.num_frames == track.num_frames == 45 and moved.fps == 30
    np.testing.assert_array_equal(moved.values, track.values)
    assert moved.channels == track.channels and moved.rig == "arkit"
    rot25 = angles_to_rotvec(predict_pose(load_posevae(weights), mel_windows(audio), 12, 7)[:, :3])
    rot25 = np.stack([rot25[:, 0], -rot25[:, 2], rot25[:, 1]], axis=1)  # BFM's Y-up frame → the Z-up head's
    np.testing.assert_array_equal(moved.rotations["head"][::6][:8], rot25[::5][:8])  # shared frame times
    reached = output_frame_count(len(rot25), 25, 30)
    assert reached < 45  # the 25 fps clip ends before the 30 fps track: the last pose is held
    held = np.repeat(rot25[-1:], 45 - reached, axis=0)
    np.testing.assert_allclose(moved.rotations["head"][reached:], held, atol=1e-6)
    assert moved.meta["head_motion"] == {
        "source": "sadtalker",
        "pose_style": 12,
        "seed": 7,
        "replaced_engine_head": True,
    }
    moved.save(tmp_path / "take.npz")
    loaded = Track.load(tmp_path / "take.npz")
    np.testing.assert_array_equal(loaded.rotations["head"], moved.rotations["head"])
    other = add_head_motion(track, audio, 12, 8, weights_path=weights)
    assert np.abs(other.rotations["head"] - moved.rotations["head"]).max() > 1e-5


def test_sadtalker_head_motion_bad_input(weights, tmp_path, monkeypatch):
    audio = speech_like(1.0)
    track = Track(fps=25, rig="arkit", channels=["jawOpen"], values=np.zeros((25, 1)))
    with pytest.raises(InputError, match=r"0\.\.45"):
        add_head_motion(track, audio, 46, 0, weights_path=weights)
    with pytest.raises(InputError, match="too short"):
        add_head_motion(track, audio[:1000], 0, 0, weights_path=weights)
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path))
    with pytest.raises(ModelMissingError, match=str(tmp_path / "sadtalker" / "SadTalker_V0.0.2_256.safetensors")):
        add_head_motion(track, audio, 0, 0)
    moved = add_head_motion(track, audio, 0, 0, weights_path=weights)
    assert moved.rotations["head"].shape == (25, 3) and not moved.meta["head_motion"]["replaced_engine_head"]


def test_sadtalker_bench_reports_the_real_time_factor(capsys):
    import torch

    from bench.sadtalker import main

    threads = torch.get_num_threads()
    try:
        assert main(["--seconds", "0.5", "--device", "cpu", "--threads", "1", "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(capsys.readouterr().out.strip())
    assert result["frames"] == 12 and result["device"] == "cpu" and result["threads"] == 1
    stages = result["mel_seconds"] + result["expnet_seconds"] + result["posevae_seconds"]
    assert result["wall_seconds"] == pytest.approx(stages, abs=0.01)
    assert result["real_time_factor"] == pytest.approx(result["wall_seconds"] / 0.5, rel=0.05, abs=1e-3)

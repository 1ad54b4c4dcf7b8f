"""`mouthpiece animate --rig arkit`: EMOTE, StyleTalk and SadTalker takes onto ARKit characters in one step.

The engines run the fixture checkpoints of ../shared/reference (and the tests' small SadTalker
weights); the FLAME and BFM rigs are synthetic files in the real formats, made from the built-in
head (core/retarget/synthetic.py), imported the way a user does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from core.arkit import ARKIT_CHANNELS
from core.track import Track
from tests.core.sadtalker_layout import write_weights

HELLO_WAV = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory, reference_dir) -> Path:
    """A models folder: EMOTE fixture release, SadTalker weights, a FLAME-format file imported, a BFM .mat."""
    from core.bfm import load_bfm_mat
    from core.retarget.synthetic import bfm_arrays, flame_arrays
    from meshes import load_head
    from tests.synthetic_assets import write_bfm_mat, write_flame_pkl

    root = tmp_path_factory.mktemp("models")
    release = root / "emote" / "EMOTE_v2"
    (release / "checkpoints").mkdir(parents=True)
    shutil.copy(reference_dir / "emote_small_cfg.yaml", release / "cfg.yaml")
    shutil.copy(reference_dir / "emote_small.ckpt", release / "checkpoints" / "last.ckpt")
    (root / "sadtalker").mkdir()
    write_weights(root / "sadtalker" / "SadTalker_V0.0.2_256.safetensors", seed=3)
    head = load_head()
    pkl = tmp_path_factory.mktemp("download") / "generic_model.pkl"
    write_flame_pkl(pkl, flame_arrays(head)[0])
    assert main(["import-flame", str(pkl), "-o", str(root / "flame.npz")]) == 0
    (root / "BFM").mkdir()
    write_bfm_mat(root / "BFM" / "BFM_model_front.mat", bfm_arrays(head)[0])
    assert load_bfm_mat(root / "BFM" / "BFM_model_front.mat").num_vertices > 3000
    return root


@pytest.fixture
def env(models, tmp_path, monkeypatch):
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(models))
    monkeypatch.setenv("MOUTHPIECE_HOME", str(models.parent / "home"))  # the correspondence cache, kept per module
    return tmp_path


def _arkit_take(path: Path, source: str) -> Track:
    track = Track.load(path)
    assert track.rig == "arkit" and track.channels == list(ARKIT_CHANNELS)
    assert track.meta["retargeted_from"] == source
    assert track.values.min() >= 0.0 and track.values.max() <= 1.0 and track.values.std(axis=0).max() > 0.01
    return track


def test_emote_take_onto_an_arkit_character(env):
    out = env / "take.npz"
    assert (
        main(
            ["animate", str(HELLO_WAV), "--engine", "emote", "--rig", "arkit", "--device", "cpu", "-q", "-o", str(out)]
        )
        == 0
    )
    track = _arkit_take(out, "flame")
    assert track.fps == 25 and track.meta["engine"] == "emote"
    assert "jaw" not in track.rotations  # the jaw is in jawOpen, as the ARKit head carries it
    native = env / "flame.npz"
    assert main(["animate", str(HELLO_WAV), "--engine", "emote", "--device", "cpu", "-q", "-o", str(native)]) == 0
    assert Track.load(native).num_frames == track.num_frames


def test_styletalk_take_onto_an_arkit_character(env, reference_dir):
    io = np.load(reference_dir / "styletalk_small_io.npz")
    (env / "seq.json").write_text(json.dumps(io["phoneme_seq"].tolist()))
    np.save(env / "style.npy", io["style_clip"])
    out = env / "take.json"
    args = ["animate", "--engine", "styletalk", "--checkpoint", str(reference_dir / "styletalk_small.pth")]
    args += ["--model-config", str(reference_dir / "styletalk_small_config.json"), "--device", "cpu", "-q"]
    args += ["--phonemes", str(env / "seq.json"), "--style", str(env / "style.npy"), "--rig", "arkit", "-o", str(out)]
    assert main(args) == 0
    assert _arkit_take(out, "bfm").num_frames == len(io["phoneme_seq"])


def test_sadtalker_take_onto_an_arkit_character(env):
    out = env / "take.npz"
    assert (
        main(
            [
                "animate",
                str(HELLO_WAV),
                "--engine",
                "sadtalker",
                "--rig",
                "arkit",
                "--device",
                "cpu",
                "-q",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    track = _arkit_take(out, "bfm")
    assert "head" in track.rotations and track.translation is not None  # PoseVAE's head motion comes along


def test_builtin_take_onto_flame_and_a_missing_rig(env, models, monkeypatch, capsys):
    out = env / "take.npz"
    assert main(["animate", str(HELLO_WAV), "--rig", "flame", "-q", "-o", str(out)]) == 0
    track = Track.load(out)
    assert track.rig == "flame" and track.channels == [f"exp{i:03d}" for i in range(100)] and "jaw" in track.rotations
    assert track.meta["retargeted_from"] == "arkit"
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(env / "nothing"))
    assert main(["animate", str(HELLO_WAV), "--engine", "emote", "--rig", "arkit", "-q", "-o", str(env / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "FLAME rig is not imported" in err and "Traceback" not in err and not (env / "x.npz").exists()


def test_other_tools_files_read_back_as_the_take(env):
    """`animate -o` writes EMOTE's .pkl, SadTalker's .mat and StyleTalk's .npy, each at its own rate."""
    from core.adapters import import_track
    from core.resample import resample

    base = ["animate", str(HELLO_WAV), "--device", "cpu", "-q"]
    for name in ("take.npz", "take.pkl"):
        assert main([*base, "--engine", "emote", "-o", str(env / name)]) == 0
    take, pkl = Track.load(env / "take.npz"), import_track(env / "take.pkl")
    assert (pkl.rig, pkl.fps, pkl.num_frames) == ("flame", 25.0, take.num_frames)
    for channel in pkl.channels:
        np.testing.assert_allclose(pkl.channel(channel), take.channel(channel), atol=1e-6)
    np.testing.assert_allclose(pkl.rotations["jaw"], take.rotations["jaw"], atol=1e-6)
    for name in ("bfm.npz", "take.mat", "take.npy"):
        assert main([*base, "--engine", "sadtalker", "-o", str(env / name)]) == 0
    bfm = Track.load(env / "bfm.npz")
    at30 = resample(bfm, 30)
    for name, fps, expected in (("take.mat", 25.0, bfm), ("take.npy", 30.0, at30)):
        back = import_track(env / name)
        assert (back.rig, back.fps, back.num_frames) == ("bfm", fps, expected.num_frames), name
        for channel in bfm.channels:
            np.testing.assert_allclose(back.channel(channel), expected.channel(channel), atol=1e-5, err_msg=name)
    assert not list(env.glob(".*part*")), "no temporary file is left"

"""`mouthpiece animate` end to end on real speech, and its one-line errors."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import build_parser, main
from core.arkit import ARKIT_CHANNELS
from core.audio import load_audio
from core.errors import InputError
from core.pipeline import AnimateRequest
from core.track import Track

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HELLO_WAV, HELLO_TXT = EXAMPLES / "hello.wav", EXAMPLES / "hello.txt"


@pytest.fixture(scope="module")
def hello_track(tmp_path_factory) -> Track:
    out = tmp_path_factory.mktemp("animate") / "hello.npz"
    options = ["--emotion", "happy", "--intensity", "0.7", "--seed", "5", "--fps", "30", "--quiet"]
    rc = main(["animate", str(HELLO_WAV), "-o", str(out), "--transcript-file", str(HELLO_TXT), *options])
    assert rc == 0 and out.is_file()
    return Track.load(out)


def test_animate_writes_a_builtin_track(hello_track):
    seconds = load_audio(HELLO_WAV).size / 16000
    assert hello_track.fps == 30.0 and hello_track.num_frames == round(seconds * 30)
    assert hello_track.rig == "arkit" and hello_track.channels == list(ARKIT_CHANNELS)
    meta = hello_track.meta
    assert meta["engine"] == "builtin" and meta["emotion"] == "happy"
    assert meta["intensity"] == 0.7 and meta["seed"] == 5
    assert meta["transcript_used"] is True and meta["warnings"] == []
    assert hello_track.channel("jawOpen").max() > 0.3  # it talks
    assert hello_track.channel("cheekSquintLeft").mean() > 0.2  # and it is happy
    assert hello_track.channel("eyeBlinkLeft").max() == 1.0  # and it blinks
    assert len(meta["phones"]) > 20


def test_animate_json_and_switches(tmp_path, capsys):
    out = tmp_path / "hello.json"
    rc = main(["animate", str(HELLO_WAV), "-o", str(out), "--no-blinks", "--head-motion", "none", "--no-eye-motion"])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    track = Track.load(out)
    assert track.fps == 60.0
    assert track.channel("eyeBlinkLeft").max() == 0.0
    assert np.abs(track.rotations["head"]).max() == 0.0
    looks = [track.channel(c).max() for c in ARKIT_CHANNELS if c.startswith("eyeLook")]
    assert max(looks) == 0.0
    assert track.channel("jawOpen").max() > 0.3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.wav", "-o", "{tmp}/t.npz"], "not found"),
        (["{tmp}/text.wav", "-o", "{tmp}/t.npz"], "not a readable audio file"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--emotion", "bored"], "unknown emotion"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--intensity", "2"], "intensity must be between 0 and 1"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--intensity", "high"], "--intensity must be a number"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.txt"], "must end in .npz, .json, .pkl, .npy, .mat, .csv, not '.txt'"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.pkl"], "a .pkl file holds the flame rig; this take is on the arkit rig: add"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.mat", "--rig", "flame"], "a .mat file holds the bfm rig; this take is on"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.mat", "--engine", "sadtalker", "--fps", "30"], "written at 25 fps"),
        (["-o", "{tmp}/t.npz"], "give an AUDIO file"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--engine", "nope"], "unknown engine"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--transcript-file", "{tmp}/none.txt"], "not found"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--seed", "-1"], "--seed must be a whole number from 0 to"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--style", "happy"], "engine 'builtin' takes no style"),
        ([str(HELLO_WAV), "-o", "{tmp}"], "must end in .npz, .json"),
        ([str(HELLO_WAV), "-o", "{tmp}/t.npz", "--engine", "emote", "--loudness", "clip"], "has no loudness option"),
    ],
)
def test_wrong_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "text.wav").write_text("this is not audio")
    rc = main(["animate", *(a.format(tmp=tmp_path) for a in args)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("mouthpiece animate: error:")
    assert message in err
    assert not (tmp_path / "t.npz").exists()


def test_loudness_absolute_opens_a_shout_wider_and_clip_does_not(tmp_path):
    from core.audio import write_wav

    shout = load_audio(HELLO_WAV)[: round(2.4 * 16000)]  # "Hello! My name is Mouthpiece."
    jaw = {}
    for gain in (1.0, 0.1):  # the same line 20 dB quieter
        wav = tmp_path / f"gain{gain}.wav"
        write_wav(wav, shout * gain)
        for mode in ("absolute", "clip"):
            out = tmp_path / f"{gain}-{mode}.npz"
            words = ["--transcript", "Hello! My name is Mouthpiece.", "--head-motion", "none", "--loudness", mode, "-q"]
            assert main(["animate", str(wav), "-o", str(out), *words]) == 0
            jaw[gain, mode] = Track.load(out).channel("jawOpen").max()
    assert jaw[0.1, "absolute"] < 0.85 * jaw[1.0, "absolute"]
    assert jaw[0.1, "clip"] == pytest.approx(jaw[1.0, "clip"], rel=0.05)
    with pytest.raises(SystemExit):
        main(["animate", str(HELLO_WAV), "-o", str(tmp_path / "t.npz"), "--loudness", "loud"])
    assert not (tmp_path / "t.npz").exists()


def test_a_live_link_face_csv_reads_back_as_the_take(hello_track, tmp_path, capsys):
    from core.adapters import import_track

    out = tmp_path / "take.csv"
    options = ["--emotion", "happy", "--intensity", "0.7", "--seed", "5", "--fps", "30"]
    assert main(["animate", str(HELLO_WAV), "-o", str(out), "--transcript-file", str(HELLO_TXT), *options]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: {hello_track.num_frames} frames at 30 fps")
    back = import_track(out)
    assert (back.rig, back.fps, back.num_frames) == ("arkit", 30.0, hello_track.num_frames)
    for name in ("jawOpen", "mouthClose", "eyeBlinkLeft", "cheekSquintLeft"):
        np.testing.assert_allclose(back.channel(name), hello_track.channel(name), atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p != out], "no temporary file is left beside it"


def test_phonemes_alone_animate_the_builtin_engine(tmp_path):
    """The word mama as 30 fps StyleTalk indices (M 21, AA 0, SIL 31), and no audio."""
    from core.rigs import load_rig
    from core.testing.lips import LipGauge

    frames = [31] * 9 + [21] * 3 + [0] * 6 + [21] * 3 + [0] * 6 + [31] * 9
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps(frames))
    out = tmp_path / "mama.npz"
    assert main(["animate", "--phonemes", str(seq), "-o", str(out), "-q"]) == 0
    track = Track.load(out)
    assert track.num_frames == round(len(frames) / 30 * 60)  # silent audio as long as the 30 fps sequence
    assert track.meta["phonemes"] == "given" and track.meta["warnings"] == []
    closed = LipGauge(load_rig("arkit")).closed(track)
    jaw = track.channel("jawOpen")
    at = lambda k: round((k + 0.5) / 30 * 60)  # noqa: E731  the 60 fps frame at the centre of 30 fps frame k
    for vowel in (15, 24):
        assert jaw[at(vowel)] > 0.3 and not closed[at(vowel)]
    for m in (10, 19):
        assert closed[at(m)]
    assert jaw[: at(3)].max() < 0.02 and jaw[at(len(frames) - 3) :].max() < 0.02  # at rest in the silence


@pytest.mark.parametrize("content", ["not json", "[]", '["AA"]', "[-1]"])
def test_bad_phoneme_files_are_refused(tmp_path, capsys, content):
    seq = tmp_path / "seq.json"
    seq.write_text(content)
    assert main(["animate", "--phonemes", str(seq), "-o", str(tmp_path / "t.npz")]) == 2
    assert "phoneme" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            json.dumps([31] * (3600 * 30 + 1)),
            "108001 phoneme frames are 3600 s at 30 fps, longer than the limit of 3600 s",
        ),
        ("[" + " " * 2_000_000 + "31]", "too large for a phoneme list of at most 3600 s"),
    ],
)
def test_phoneme_lists_longer_than_a_clip_may_be_are_refused_before_any_memory_goes(tmp_path, capsys, content, message):
    seq = tmp_path / "seq.json"
    seq.write_text(content)
    assert main(["animate", "--phonemes", str(seq), "-o", str(tmp_path / "t.npz")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()


def test_builtin_path_imports_neither_torch_nor_heavy_scipy(tmp_path):
    code = (
        "import sys; from cli.main import main; "
        f"rc = main(['animate', {str(HELLO_WAV)!r}, '-o', {str(tmp_path / 't.npz')!r}, '-q']); "
        "heavy = [m for m in ('torch', 'scipy.signal', 'scipy.ndimage', 'scipy.spatial') if m in sys.modules]; "
        "print(rc, heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=EXAMPLES.parent)
    assert proc.stdout.strip() == "0 []", proc.stderr


def _args(**given: object) -> argparse.Namespace:
    """`mouthpiece animate`'s arguments as argparse leaves them (text as typed)."""
    words = ["animate", "clip.wav", "-o", "t.npz"]
    for name, value in given.items():
        words += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return build_parser("animate").parse_args(words)


def test_the_arguments_make_the_pipelines_request(tmp_path) -> None:
    seq = tmp_path / "seq.json"
    seq.write_text("[31, 21, 0]")
    text = tmp_path / "words.txt"
    text.write_text("hello there", encoding="utf-8")
    request = AnimateRequest.from_args(
        _args(
            engine="sadtalker",
            seed=7,
            intensity=0.25,
            fps=29.97,
            identity="3",
            pose_style=5,
            rig="arkit",
            phonemes=seq,
            transcript_file=text,
            no_blinks=True,
            loudness="clip",
        )
    )
    assert request == AnimateRequest(
        engine="sadtalker", intensity=0.25, seed=7, identity=3, transcript="hello there", fps=29.97, blinks=False,
        pose_style=5, rig="arkit", phonemes=[31, 21, 0], loudness="clip")  # fmt: skip
    assert AnimateRequest.from_args(_args(rig="bfm", fps=24), fps=None, rig=None) == AnimateRequest()
    for given, message in [
        ({"pose_style": 0}, "--pose-style only applies with --head-motion sadtalker"),
        ({"seed": -1}, "--seed must be a whole number from 0 to 2147483647"),
        ({"fps": "fast"}, "--fps must be a number, got 'fast'"),
        ({"head_motion": "sadtalker", "pose_style": "x"}, "pose style must be an integer in 0..45"),
    ]:
        with pytest.raises(InputError, match=re.escape(message)):
            AnimateRequest.from_args(_args(**given))

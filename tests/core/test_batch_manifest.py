"""The batch manifest (CSV and JSON Lines) and the batch folder's files: parsing, refusals, atomic outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.adapters import import_track
from core.arkit import ARKIT_CHANNELS
from core.atomic import atomic_path
from core.batch.manifest import read_manifest
from core.batch.outputs import (
    STATE_DIR,
    forget,
    is_done,
    line_key,
    mark_done,
    parse_formats,
    remove_partial_files,
    write_outputs,
)
from core.errors import InputError
from core.track import Track


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_lines_paths_and_settings(tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "scripts" / "act1.csv",
        "id,audio,transcript,emotion,intensity,engine,seed\n"
        'intro,vo/intro.wav,"Hello, there.",happy,0.7,builtin,3\n'
        "\n"
        ",vo/guard_02.wav,,,,,\n",
    )
    first, second = read_manifest(manifest)
    assert first.number == 2 and first.id == "intro"
    assert first.audio == tmp_path / "scripts" / "vo" / "intro.wav"  # relative to the manifest, not the cwd
    assert first.settings == {
        "transcript": "Hello, there.",
        "emotion": "happy",
        "intensity": "0.7",
        "engine": "builtin",
        "seed": "3",
    }
    assert second.number == 4 and second.id == "guard_02"  # the audio's stem; empty cells are not given
    assert second.settings == {} and second.transcript_file is None


def test_jsonl_lines_numbers_and_transcript_file(tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "lines.jsonl",
        json.dumps({"audio": "/abs/a.wav", "intensity": 1, "fps": 30.0, "style": None}) + "\n\n"
        + json.dumps({"audio": "b.flac", "transcript_file": "txt/b.txt", "identity": 2, "rig": "arkit"}) + "\n",
    )  # fmt: skip
    a, b = read_manifest(manifest)
    assert a.audio == Path("/abs/a.wav") and a.settings == {"intensity": "1", "fps": "30.0"}
    assert b.number == 3 and b.transcript_file == tmp_path / "txt" / "b.txt"
    assert b.settings == {"identity": "2", "rig": "arkit"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.csv", "audio,mood\na.wav,happy\n", "m.csv: line 1: unknown column 'mood'; the columns are: id, audio"),
        ("m.jsonl", '{"audio": "a.wav"}\n{"audio": "b.wav", "emoton": "sad"}\n', "line 2: unknown column 'emoton'"),
        ("m.csv", "audio,emotion\na.wav,sad\n,happy\n", "m.csv: line 3: no audio file"),
        ("m.csv", "audio,audio\na.wav,b.wav\n", "line 1: column 'audio' appears twice"),
        ("m.csv", "audio\na.wav,extra\n", "line 2 has 2 fields, the header names 1"),
        ("m.jsonl", '{"audio": "a.wav"}\n{"audio": "b.wav",\n', "m.jsonl: line 2: not valid JSON"),
        ("m.jsonl", '["a.wav"]\n', "line 1: each line must be a JSON object"),
        ("m.jsonl", '{"audio": "a.wav", "seed": true}\n', "line 1: 'seed' must be a string or a number"),
        (
            "m.csv",
            "audio,transcript,transcript_file\na.wav,hi,a.txt\n",
            "line 2: give a transcript or a transcript_file",
        ),
        ("m.csv", "audio\nx/take.wav\ny/TAKE.wav\n", "line 3: id 'TAKE' is also line 2's"),
        ("m.csv", "id,audio\n../escape,a.wav\n", "line 2: id '../escape' cannot be a file name"),
        ("m.csv", "audio\n", "m.csv: the manifest has no lines"),
        ("m.txt", "audio\na.wav\n", "a manifest is a .csv or .jsonl file"),
    ],
)
def test_bad_manifests_are_refused_naming_the_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        read_manifest(_write(tmp_path / name, text))
    assert message in str(info.value)


def test_missing_and_binary_manifests(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00audio")
    with pytest.raises(InputError, match="must be UTF-8"):
        read_manifest(tmp_path / "bin.csv")


# ---- the batch folder -------------------------------------------------------------------------------
def _arkit_track(frames: int = 12) -> Track:
    values = np.linspace(0, 1, frames * len(ARKIT_CHANNELS), dtype=np.float32).reshape(frames, -1)
    return Track(fps=30, rig="arkit", channels=list(ARKIT_CHANNELS), values=values, meta={"engine": "builtin"})


def test_formats() -> None:
    assert parse_formats("npz") == ["npz"]
    assert parse_formats(" CSV, .json,npz,csv ") == ["csv", "json", "npz"]
    with pytest.raises(InputError, match="unknown output format 'fbx'; choose from: npz, json, csv"):
        parse_formats("npz,fbx")
    with pytest.raises(InputError, match="unknown output format"):
        parse_formats(",")


def test_outputs_in_every_format_and_no_temporary_files(tmp_path: Path) -> None:
    track = _arkit_track()
    files, warnings = write_outputs(track, tmp_path, "line.01", ["npz", "json", "csv"])
    assert [f.name for f in files] == ["line.01.npz", "line.01.json", "line.01.csv"] and warnings == []
    for path in files:
        back = import_track(path)
        assert back.num_frames == 12 and np.allclose(back.values, track.values, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.01.csv", "line.01.json", "line.01.npz"]


def test_csv_of_a_non_arkit_take_is_skipped_with_a_warning(tmp_path: Path) -> None:
    flame = Track(fps=25, rig="flame", channels=["exp000", "exp001"], values=np.zeros((5, 2), np.float32))
    files, warnings = write_outputs(flame, tmp_path, "a", ["npz", "csv"])
    assert [f.name for f in files] == ["a.npz"]
    assert warnings == ["no csv file: Live Link Face CSV holds ARKit shapes; this take is on the flame rig"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")

    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_done_records_and_leftovers(tmp_path: Path) -> None:
    files, _ = write_outputs(_arkit_track(), tmp_path, "a", ["npz", "json"])
    key = line_key(b"RIFF audio", {"emotion": "sad"})
    assert not is_done(tmp_path, "a", key)
    mark_done(tmp_path, "a", key, files)
    assert is_done(tmp_path, "a", key)
    assert not is_done(tmp_path, "a", line_key(b"RIFF audio", {"emotion": "happy"}))
    assert not is_done(tmp_path, "a", line_key(b"RIFF audio!", {"emotion": "sad"}))
    (tmp_path / "a.json").unlink()  # a file the user deleted is made again
    assert not is_done(tmp_path, "a", key)
    write_outputs(_arkit_track(), tmp_path, "a", ["json"])
    assert is_done(tmp_path, "a", key)
    forget(tmp_path, "a")
    assert not is_done(tmp_path, "a", key)
    (tmp_path / ".b.part.npz").write_bytes(b"half")
    (tmp_path / STATE_DIR / ".c.part.json").write_text("{")
    assert remove_partial_files(tmp_path) == 2
    assert not list(tmp_path.rglob("*.part.*"))

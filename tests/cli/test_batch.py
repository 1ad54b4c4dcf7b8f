"""`mouthpiece batch` end to end: a 20-line manifest with two bad lines, resume, Ctrl-C, Ray, EMOTE."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from core.adapters import import_track
from core.arkit import ARKIT_CHANNELS
from core.audio import SAMPLE_RATE, load_audio, write_wav
from core.batch.outputs import STATE_DIR
from core.engines import ENGINES
from core.testing.espeak import synthesize
from core.track import Track

WORDS = ("stop", "go left", "run", "hello", "over here", "no way", "come on", "wait", "look out")
EMOTIONS = ("neutral", "happy", "angry")
GOOD = 18
BAD = {"lost": 8, "noise": 15}  # id → the manifest line (1-based, after the header) of the two bad lines


def _manifest(folder: Path) -> Path:
    """20 lines: 18 short synthesized clips (relative paths) and two bad ones (a missing file, not audio)."""
    (folder / "vo").mkdir(parents=True)
    rows = []
    for k in range(GOOD):
        text = WORDS[k % len(WORDS)]
        audio, _ = synthesize(text, rate=170 + 15 * (k // len(WORDS)))
        write_wav(folder / "vo" / f"l{k:02d}.wav", audio)
        rows.append([f"l{k:02d}", f"vo/l{k:02d}.wav", text, EMOTIONS[k % 3], str(k % 5)])
    (folder / "vo" / "noise.wav").write_bytes(b"RIFF but not really a wave file")
    rows.insert(BAD["lost"] - 2, ["lost", "vo/lost.wav", "", "", ""])
    rows.insert(BAD["noise"] - 2, ["noise", "vo/noise.wav", "", "sad", ""])
    manifest = folder / "script.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "audio", "transcript", "emotion", "seed"])
        writer.writerows(rows)
    return manifest


def _report(outdir: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (outdir / "report.jsonl").read_text().splitlines()]
    return {row["id"]: row for row in rows}


def _stamps(outdir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in outdir.glob("l*.*")}


def _batch(manifest: Path, outdir: Path, *extra: str) -> int:
    return main(["batch", str(manifest), "-o", str(outdir), "--formats", "npz,json,csv", "-q", *extra])


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _manifest(tmp_path_factory.mktemp("script"))


@pytest.fixture(scope="module")
def first_run(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("takes") / "out"
    assert _batch(script, outdir, "--workers", "2") == 2  # the exit status: two lines failed
    return outdir


@pytest.mark.slow
def test_eighteen_takes_and_a_report_naming_the_two_bad_lines(first_run: Path, script: Path) -> None:
    report = _report(first_run)
    assert len(report) == 20
    failed = {i: r for i, r in report.items() if r["status"] == "failed"}
    assert {i: r["line"] for i, r in failed.items()} == BAD
    assert failed["lost"]["error"] == f"audio file not found: {script.parent / 'vo' / 'lost.wav'}"
    assert failed["noise"]["error"].startswith("noise.wav: not a readable audio file")
    assert sorted(p.name for p in first_run.iterdir()) == sorted(
        [STATE_DIR, "report.jsonl"] + [f"l{k:02d}.{ext}" for k in range(GOOD) for ext in ("npz", "json", "csv")]
    )
    numbers = {row.split(",")[0]: n for n, row in enumerate(script.read_text().splitlines(), start=1)}
    for k in range(GOOD):
        row = report[f"l{k:02d}"]
        assert row["status"] == "done" and row["line"] == numbers[f"l{k:02d}"]
        track = Track.load(first_run / f"l{k:02d}.npz")
        seconds = load_audio(script.parent / "vo" / f"l{k:02d}.wav").size / SAMPLE_RATE
        assert track.rig == "arkit" and track.channels == list(ARKIT_CHANNELS)
        assert abs(track.duration - seconds) < 2 / track.fps and row["frames"] == track.num_frames
        assert track.meta["emotion"] == EMOTIONS[k % 3] and track.meta["seed"] == k % 5
        assert row["warnings"] == track.meta["warnings"]  # e.g. a one-word transcript the aligner cannot place
        assert track.meta["transcript_used"] is not row["warnings"]
        assert track.channel("jawOpen").max() > 0.2
        json_track = Track.load(first_run / f"l{k:02d}.json")
        assert np.allclose(json_track.values, track.values)
        live_link = import_track(first_run / f"l{k:02d}.csv")
        assert live_link.num_frames == track.num_frames
        assert np.allclose(live_link.values, track.values[:, [track.channels.index(c) for c in live_link.channels]])


@pytest.mark.slow
def test_a_rerun_does_nothing(first_run: Path, script: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    shutil.copytree(first_run, outdir)
    before = _stamps(outdir)
    assert _batch(script, outdir) == 2  # the two bad lines still fail
    report = _report(outdir)
    assert sorted(i for i, r in report.items() if r["status"] == "skipped") == [f"l{k:02d}" for k in range(GOOD)]
    assert _stamps(outdir) == before


@pytest.mark.slow
def test_a_changed_line_is_redone_and_force_redoes_all(first_run: Path, script: Path, tmp_path: Path) -> None:
    folder = tmp_path / "script"
    shutil.copytree(script.parent, folder)
    outdir = tmp_path / "out"
    shutil.copytree(first_run, outdir)
    rows = list(csv.reader((folder / "script.csv").open()))
    assert rows[5][0] == "l04" and rows[5][3] != "sad"
    rows[5][3] = "sad"
    with (folder / "script.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    audio, _ = synthesize("right now")
    write_wav(folder / "vo" / "l09.wav", audio)  # same name and settings, new take of the audio
    before = _stamps(outdir)
    assert _batch(folder / "script.csv", outdir) == 2
    report = _report(outdir)
    assert sorted(i for i, r in report.items() if r["status"] == "done") == ["l04", "l09"]
    assert Track.load(outdir / "l04.npz").meta["emotion"] == "sad"
    assert Track.load(outdir / "l09.npz").num_frames == round(len(audio) / SAMPLE_RATE * 60)
    after = _stamps(outdir)
    assert {name for name in after if after[name] != before[name]} == {
        f"l{k}.{e}" for k in ("04", "09") for e in ("npz", "json", "csv")
    }
    assert _batch(folder / "script.csv", outdir, "--force", "--workers", "2") == 2
    assert sum(r["status"] == "done" for r in _report(outdir).values()) == GOOD


@pytest.mark.slow
def test_ctrl_c_loses_only_lines_in_flight_and_a_rerun_completes(script: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    command = [sys.executable, "-m", "cli.main", "batch", str(script), "-o", str(outdir)]
    command += ["--formats", "npz,json,csv", "--workers", "1", "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((outdir / STATE_DIR).glob("l*.json"))) < 3:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "run the same command again to continue" in err
    assert "Traceback" not in err
    kept = {p.stem for p in (outdir / STATE_DIR).glob("l*.json")}
    assert 3 <= len(kept) < GOOD
    assert not list(outdir.rglob("*.part*"))
    for path in outdir.glob("l*.*"):  # every file there is whole
        import_track(path)
    assert _batch(script, outdir, "--workers", "2") == 2
    report = _report(outdir)
    assert {i for i, r in report.items() if r["status"] == "skipped"} == kept
    assert sum(r["status"] in ("done", "skipped") for r in report.values()) == GOOD
    assert len(list(outdir.glob("l*.npz"))) == GOOD and not list(outdir.rglob("*.part*"))


@pytest.mark.slow
def test_ray_gives_the_same_tracks(first_run: Path, script: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert _batch(script, tmp_path / "out", "--ray", "--workers", "2") == 2
    finally:
        ray.shutdown()
    report = _report(tmp_path / "out")
    assert {i for i, r in report.items() if r["status"] == "failed"} == set(BAD)
    for k in range(GOOD):
        local, remote = (Track.load(folder / f"l{k:02d}.npz") for folder in (first_run, tmp_path / "out"))
        assert np.array_equal(local.values, remote.values)
        assert local.rotations.keys() == remote.rotations.keys()
        assert all(np.array_equal(local.rotations[n], remote.rotations[n]) for n in local.rotations)
        assert local.meta == remote.meta


def test_one_line_errors(script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("audio,feeling\na.wav,sad\n")
    assert main(["batch", str(bad), "-o", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        "mouthpiece batch: error: bad.csv: line 1: unknown column 'feeling'; the columns are: "
        "id, audio, transcript, transcript_file, emotion, intensity, engine, style, identity, seed, fps, rig\n"
    )
    assert not (tmp_path / "o").exists()
    assert main(["batch", str(script), "-o", str(tmp_path / "o"), "--formats", "npz,fbx"]) == 2
    assert "unknown output format 'fbx'" in capsys.readouterr().err
    assert main(["batch", str(script), "-o", str(tmp_path / "o"), "--intensity", "loud"]) == 2
    assert capsys.readouterr().err == "mouthpiece batch: error: --intensity must be a number, got 'loud'\n"
    assert main(["batch", str(script), "-o", str(tmp_path / "o"), "--fps", "300"]) == 2
    assert capsys.readouterr().err == "mouthpiece batch: error: fps must be between 1 and 240, got 300.0\n"
    (tmp_path / "file").write_text("")
    assert main(["batch", str(script), "-o", str(tmp_path / "file")]) == 2
    assert "the output folder is a file" in capsys.readouterr().err


@pytest.mark.slow
def test_bad_values_fail_their_line_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "no-models"))  # the workers inherit it
    audio, _ = synthesize("hello")
    write_wav(tmp_path / "a.wav", audio)
    rows = [
        {"id": "ok", "audio": "a.wav"},
        {"id": "mood", "audio": "a.wav", "emotion": "smug"},
        {"id": "loud", "audio": "a.wav", "intensity": 3},
        {"id": "engine", "audio": "a.wav", "engine": "warp"},
        {"id": "rig", "audio": "a.wav", "rig": "flame"},
        {"id": "words", "audio": "a.wav", "transcript_file": "none.txt"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "-q"]) == 5
    errors = {i: r.get("error") for i, r in _report(tmp_path / "out").items()}
    # builtin → flame is a retarget, which needs the user's FLAME (none is imported here)
    assert errors.pop("rig").startswith("the FLAME rig is not imported yet: download FLAME 2020")
    assert errors == {
        "ok": None,
        "mood": "unknown emotion 'smug'; choose one of: neutral, happy, sad, surprised, fear, disgusted, angry, "
        "contempt",
        "loud": "intensity must be between 0 and 1, got 3.0",
        "engine": "unknown engine 'warp'; choose one of: " + ", ".join(ENGINES),
        "words": f"transcript file not found: {tmp_path / 'none.txt'}",
    }
    assert sorted(p.name for p in (tmp_path / "out").glob("*.npz")) == ["ok.npz"]


@pytest.mark.slow
def test_summary_on_the_terminal(script: Path, first_run: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    shutil.copytree(first_run, outdir)
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "batch", str(script), "-o", str(outdir), "--formats", "npz,json,csv"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    out = proc.stdout
    assert "already up to date │ 18" in out and "failed             │ 2" in out
    assert "lost" in out and "audio file not found" in out and "noise.wav: not a readable audio file" in out
    assert f"report: {outdir / 'report.jsonl'}" in out


@pytest.mark.slow
def test_bench_prints_rates_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "batch", "--lines", "4", "--workers", "2", "--no-ray"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("4 lines, ") and "engine builtin" in out[0]
    rows = {line[:18].strip(): line[18:].split() for line in out if line.startswith(("1 worker", "2 workers"))}
    assert rows["1 worker"][1] == "1.00×" and rows["1 worker"][3] == "1.00×"
    whole, ratio, warm, warm_ratio = rows["2 workers"]
    assert float(whole) > 0 and float(warm) > 0
    assert float(ratio.rstrip("×")) == pytest.approx(float(whole) / float(rows["1 worker"][0]), abs=0.01)
    assert float(warm_ratio.rstrip("×")) == pytest.approx(float(warm) / float(rows["1 worker"][2]), abs=0.01)


def test_ray_auto_without_a_cluster_is_a_one_line_error(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main(["batch", str(script), "-o", str(tmp_path / "out"), "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mouthpiece batch: error: cannot reach the Ray cluster at 'auto': ")
    assert err.count("\n") == 1 and "Traceback" not in err

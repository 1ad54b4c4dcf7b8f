"""`mouthpiece batch` with the fixture EMOTE: the same takes as `mouthpiece animate`, locally and on Ray."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from core.audio import write_wav
from core.testing.espeak import synthesize
from core.track import Track

pytest.importorskip("torch")
pytest.importorskip("transformers")

LINES = [
    {"id": "calm", "audio": "calm.wav", "emotion": "neutral"},
    {"id": "furious", "audio": "furious.wav", "emotion": "angry", "intensity": 1, "identity": 2},
    {"id": "scared", "audio": "scared.wav", "emotion": "fear", "intensity": 0.4, "identity": "1", "fps": 30},
    {"id": "stranger", "audio": "calm.wav", "identity": 7},
]
WORDS = {"calm": "we wait here", "furious": "get out of my house", "scared": "did you hear that"}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("models") / "EMOTE_v2"
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copy(reference_dir / "emote_small_cfg.yaml", folder / "cfg.yaml")
    shutil.copy(reference_dir / "emote_small.ckpt", folder / "checkpoints" / "last.ckpt")
    return folder


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("script")
    for name, text in WORDS.items():
        write_wav(folder / f"{name}.wav", synthesize(text)[0])
    path = folder / "lines.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    return path


def _report(outdir: Path) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, (outdir / "report.jsonl").read_text().splitlines())}


@pytest.mark.slow
def test_emote_batch_matches_animate_and_ray(release: Path, manifest: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    common = ["--engine", "emote", "--model-dir", str(release), "--device", "cpu", "--formats", "npz,csv", "-q"]
    local = tmp_path / "local"
    assert main(["batch", str(manifest), "-o", str(local), "--workers", "2", *common]) == 1
    report = _report(local)
    assert report["stranger"]["status"] == "failed"
    assert report["stranger"]["error"] == "EMOTE identity 7 is out of range: this model has identities 0..3"
    no_csv = "no csv file: Live Link Face CSV holds ARKit shapes; this take is on the flame rig"
    for line in LINES[:3]:
        row = report[line["id"]]
        assert row["status"] == "done" and no_csv in row["warnings"] and row["files"] == [f"{line['id']}.npz"]
        take = Track.load(local / f"{line['id']}.npz")
        assert take.rig == "flame" and take.fps == float(line.get("fps", 25))
        assert take.meta["emotion"] == line["emotion"]
        # the same take as `mouthpiece animate` with the same settings (its torch may use more threads)
        alone = tmp_path / f"{line['id']}_animate.npz"
        argv = ["animate", str(manifest.parent / line["audio"]), "-o", str(alone), "--emotion", line["emotion"]]
        for name in ("intensity", "identity", "fps"):
            argv += [f"--{name}", str(line[name])] if name in line else []
        assert main([*argv, "--engine", "emote", "--model-dir", str(release), "--device", "cpu", "-q"]) == 0
        expected = Track.load(alone)
        assert expected.num_frames == take.num_frames
        assert np.allclose(take.values, expected.values, atol=1e-5)
        assert all(np.allclose(take.rotations[n], expected.rotations[n], atol=1e-5) for n in expected.rotations)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["batch", str(manifest), "-o", str(tmp_path / "ray"), "--ray", "--workers", "2", *common]) == 1
    finally:
        ray.shutdown()
    for line in LINES[:3]:
        a, b = (Track.load(folder / f"{line['id']}.npz") for folder in (local, tmp_path / "ray"))
        assert np.array_equal(a.values, b.values)
        assert all(np.array_equal(a.rotations[n], b.rotations[n]) for n in a.rotations)


@pytest.mark.slow
def test_emote_lines_retargeted_onto_arkit_with_live_link_csv(
    release: Path, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--rig arkit``: every EMOTE line becomes an ARKit take, so the Live Link Face CSV is written too."""
    from core.arkit import ARKIT_CHANNELS
    from core.retarget.synthetic import flame_arrays
    from meshes import load_head
    from tests.synthetic_assets import write_flame_pkl

    models = tmp_path / "models"
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(models))  # the workers inherit it
    monkeypatch.setenv("MOUTHPIECE_HOME", str(tmp_path / "home"))
    pkl = tmp_path / "generic_model.pkl"
    write_flame_pkl(pkl, flame_arrays(load_head())[0])
    assert main(["import-flame", str(pkl)]) == 0
    out = tmp_path / "out"
    common = ["--engine", "emote", "--model-dir", str(release), "--device", "cpu", "--formats", "npz,csv", "-q"]
    assert main(["batch", str(manifest), "-o", str(out), "--workers", "1", "--rig", "arkit", *common]) == 1
    for line in LINES[:3]:
        row = _report(out)[line["id"]]
        assert row["status"] == "done" and row["files"] == [f"{line['id']}.npz", f"{line['id']}.csv"], row
        take = Track.load(out / f"{line['id']}.npz")
        assert take.rig == "arkit" and take.channels == list(ARKIT_CHANNELS)
        assert take.meta["retargeted_from"] == "flame" and take.meta["emotion"] == line["emotion"]
        assert take.values.min() >= 0.0 and take.values.max() <= 1.0

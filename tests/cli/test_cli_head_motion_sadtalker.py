"""`mouthpiece animate --head-motion sadtalker`: PoseVAE head motion on the builtin engine's track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from core.track import Track
from tests.core.sadtalker_layout import write_weights

HELLO_WAV = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"


@pytest.mark.slow
def test_sadtalker_head_motion_from_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOUTHPIECE_MODELS", str(tmp_path / "models"))
    out = tmp_path / "take.npz"
    args = ["animate", str(HELLO_WAV), "-o", str(out), "-q", "--fps", "30", "--head-motion", "sadtalker"]

    assert main([*args, "--pose-style", "3"]) == 2  # no weights yet: say where they go
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SadTalker_V0.0.2_256.safetensors" in err and "models" in err
    assert not out.exists()

    (tmp_path / "models" / "sadtalker").mkdir(parents=True)
    write_weights(tmp_path / "models" / "sadtalker" / "SadTalker_V0.0.2_256.safetensors", seed=1)
    assert main([*args, "--pose-style", "46"]) == 2
    assert "0..45" in capsys.readouterr().err
    assert main(["animate", str(HELLO_WAV), "-o", str(out), "--pose-style", "4"]) == 2
    assert "--head-motion sadtalker" in capsys.readouterr().err

    assert main([*args, "--pose-style", "3"]) == 0
    track = Track.load(out)
    assert track.rig == "arkit" and track.fps == 30
    assert track.meta["head_motion"]["source"] == "sadtalker" and track.meta["head_motion"]["pose_style"] == 3
    head = track.rotations["head"]
    assert head.shape == (track.num_frames, 3) and np.isfinite(head).all() and np.ptp(head, axis=0).max() > 0

    assert main([*args[:-2], "--head-motion", "none", "--no-blinks"]) == 0
    assert "head" not in Track.load(out).rotations or np.ptp(Track.load(out).rotations["head"]) == 0

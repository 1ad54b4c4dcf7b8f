"""EMOTE's emotions survive the retarget: on a FLAME-format rig whose basis makes the fixture model's
happy-minus-neutral direction a smile, the ARKit take smiles more when EMOTE is asked for happy."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.arkit import ARKIT_CHANNELS
from core.engines import get_engine
from core.engines.base import EngineOptions
from core.flame import parse_flame
from core.retarget import rig_pair, to_arkit
from core.retarget.synthetic import flame_arrays, skin_channels
from core.testing.signals import speech_like
from meshes import load_head

pytestmark = pytest.mark.slow


def test_happy_raises_the_smile_of_the_arkit_take(reference_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MOUTHPIECE_HOME", str(tmp_path / "home"))
    release = tmp_path / "EMOTE_v2"
    (release / "checkpoints").mkdir(parents=True)
    shutil.copy(reference_dir / "emote_small_cfg.yaml", release / "cfg.yaml")
    shutil.copy(reference_dir / "emote_small.ckpt", release / "checkpoints" / "last.ckpt")
    engine = get_engine("emote", model_dir=release, device="cpu")
    audio = speech_like(2.0, seed=4)
    takes = {e: engine.run(audio, EngineOptions(emotion=e, intensity=1.0)) for e in ("neutral", "happy")}
    for take in takes.values():  # the random fixture swings its jaw up to ~2 rad: keep the expression only
        assert "jaw" in take.rotations
        take.rotations = {}
    delta = takes["happy"].values.mean(axis=0) - takes["neutral"].values.mean(axis=0)
    assert np.linalg.norm(delta) > 1e-3, "the fixture's emotion condition must change its output"
    # a basis in which that direction (taken square to the neutral take's mean, so that neutral sits
    # at no smile) is an even smile and other directions are other ARKit shapes, each scaled to
    # move its channel by at most 0.25 over both takes; the neutral mean itself moves nothing
    rng = np.random.default_rng(0)
    neutral = takes["neutral"].values.mean(axis=0)
    # the direction that best separates the two takes frame by frame (Fisher's), so that the frames'
    # own spread along it stays small next to the emotion's shift
    spread = sum(np.cov(t.values.T) for t in takes.values()) + 1e-3 * np.eye(100)
    fisher = np.linalg.solve(spread, delta)
    direction = fisher - (fisher @ neutral) / (neutral @ neutral) * neutral
    q, _ = np.linalg.qr(np.column_stack([direction, neutral, rng.normal(size=(100, 98))]))
    q[:, 0] *= np.sign(q[:, 0] @ delta)
    cols = [ARKIT_CHANNELS.index(c) for c in skin_channels()]
    smile = [ARKIT_CHANNELS.index("mouthSmileLeft"), ARKIT_CHANNELS.index("mouthSmileRight")]
    others = [c for c in cols if c not in smile]
    proj = np.concatenate([t.values for t in takes.values()]) @ q
    mixing = np.zeros((100, 52))
    mixing[:, smile] = (q[:, 0] * 0.3 / (q[:, 0] @ delta))[:, None]  # happy: +0.3 smile on average
    for k, c in enumerate(others, start=2):
        mixing[:, c] = q[:, k] * 0.25 / np.abs(proj[:, k]).max()
    head = load_head()
    arrays, _ = flame_arrays(head, mixing=mixing)
    pair = rig_pair(parse_flame(arrays).to_rig(), head)
    arkit = {e: to_arkit(t, pair) for e, t in takes.items()}
    assert all(t.meta["retargeted_from"] == "flame" and t.meta["emotion"] == e for e, t in arkit.items())
    gain = arkit["happy"].values.mean(axis=0) - arkit["neutral"].values.mean(axis=0)
    print(
        f"happy − neutral: mouthSmile L/R {gain[smile[0]]:+.3f} {gain[smile[1]]:+.3f}, "
        f"largest other {np.abs(gain[others]).max():.3f}"
    )
    assert gain[smile[0]] > 0.1 and gain[smile[1]] > 0.1, gain[smile]
    assert np.abs(gain[others]).max() < min(gain[smile]), "the smile is the main change"

"""The StyleTalk samples' phone labels run about STYLETALK_LAG_S behind their sound; lip-sync scores allow for it."""

from pathlib import Path

import numpy as np
import pytest

from core.audio import load_audio
from core.phonetics import phones_to_frames
from core.phonetics.segments import STYLETALK_LAG_S
from core.rigs import load_rig
from core.testing.espeak import synthesize
from core.testing.lips import LABEL_FPS, LipGauge, label_lag, score
from core.track import Track


def _clips(samples_dir: Path) -> list[tuple[np.ndarray, list[str]]]:
    from bench.lipsync import clip_labels

    clips = []
    for wav in sorted((samples_dir / "source_video" / "wav").glob("*.wav")):
        audio = load_audio(wav)
        labels = clip_labels(samples_dir / "source_video" / "phoneme" / f"{wav.stem}_seq.json", audio.size / 16000)
        clips.append((audio, labels))
    return clips


def test_styletalk_labels_run_behind_their_sound_by_the_lag_the_code_assumes(samples_dir):
    clips = _clips(samples_dir)
    assert len(clips) == 11
    assert label_lag(clips) == pytest.approx(STYLETALK_LAG_S, abs=0.011)
    assert all(0.02 <= label_lag([clip]) <= 0.06 for clip in clips)


def test_a_synthesizers_own_labels_are_on_time():
    clips = []
    for text in ("Bob bought a big blue bump map for the boat.", "My mom made maple muffins on Monday morning."):
        audio, phones = synthesize(text)
        clips.append((audio, phones_to_frames(phones, LABEL_FPS, round(audio.size / 16000 * LABEL_FPS))))
    assert abs(label_lag(clips)) <= 0.02


def test_scores_read_late_labels_early():
    """A closure 40 ms before the labelled p (labels late by 40 ms) is on time once the lag is allowed for."""
    gauge = LipGauge(load_rig("arkit"))
    fps, n = 60.0, 60
    labels = ["AA"] * 12 + ["P"] * 3 + ["AA"] * 15  # 30 fps: the p at 0.4-0.5 s
    values = np.zeros((n, 52), dtype=np.float32)
    track = Track(fps=fps, rig="arkit", channels=list(load_rig("arkit").channels), values=values)
    jaw = track.channels.index("jawOpen")
    values[:, jaw] = 0.6
    values[round(0.36 * fps) : round(0.46 * fps), jaw] = 0.0  # lips shut 0.36-0.46 s
    late = score(labels, track, gauge, 1.0, 1.0)
    allowed = score(labels, track, gauge, 1.0, 1.0, label_lag=0.04)
    assert late.bilabial == allowed.bilabial == (1, 1)
    assert late.false_closure[0] == 1 and allowed.false_closure[0] == 0

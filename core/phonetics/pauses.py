"""Pauses from the audio energy: long quiet runs become SIL whatever the decoder put there."""

from __future__ import annotations

import numpy as np

from core.audio import SAMPLE_RATE
from core.phonetics.segments import SIL, PhoneSegment

HOP_S = 0.01
MIN_PAUSE_S = 0.15
# Quiet: this far below the loud (95th percentile) level, and a little above the noise floor.
QUIET_BELOW_PEAK_DB = 35.0
QUIET_ABOVE_FLOOR_DB = 6.0


def energy_db(audio: np.ndarray, hop_s: float = HOP_S) -> np.ndarray:
    """Frame energy in dB (20 ms windows every ``hop_s``)."""
    hop = round(hop_s * SAMPLE_RATE)
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    padded = np.concatenate([np.asarray(audio, np.float32), np.zeros(hop, np.float32)])
    frames = padded[: (n + 1) * hop].reshape(n + 1, hop)
    power = (frames[:-1] ** 2).mean(axis=1) + (frames[1:] ** 2).mean(axis=1)
    return (10.0 * np.log10(power / 2 + 1e-10)).astype(np.float32)


def quiet_runs(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of quiet stretches at least MIN_PAUSE_S long."""
    db = energy_db(audio)
    if db.size == 0:
        return []
    loud, floor = np.percentile(db, 95), np.percentile(db, 5)
    threshold = max(loud - QUIET_BELOW_PEAK_DB, floor + QUIET_ABOVE_FLOOR_DB)
    quiet = np.concatenate([[False], db < threshold, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if (b - a) * HOP_S >= MIN_PAUSE_S:
            runs.append((a * HOP_S, b * HOP_S))
    return runs


def mark_pauses(segments: list[PhoneSegment], audio: np.ndarray) -> list[PhoneSegment]:
    """Cut SIL into the segments wherever the audio is quiet for MIN_PAUSE_S or longer."""
    out = list(segments)
    for start, end in quiet_runs(audio):
        kept: list[PhoneSegment] = []
        for seg in out:
            if seg.end <= start or seg.start >= end:
                kept.append(seg)
                continue
            if seg.start < start:
                kept.append(PhoneSegment(seg.phone, seg.start, start))
            if seg.end > end:
                kept.append(PhoneSegment(seg.phone, end, seg.end))
        kept.append(PhoneSegment(SIL, start, end))
        out = sorted(kept, key=lambda s: s.start)
    return out

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
MAX_ONSET_SHIFT_S = 0.25
MIN_PIECE_S = 0.03
STOPS = frozenset({"P", "B", "T", "D", "K", "G"})
STOP_REACH_S = 0.08
"""A stop reaching past a quiet run's end keeps up to this much of the run as its (silent) closure."""
"""A phone cut by a pause keeps a piece only if it is at least this long (else the pause takes it)."""
SPAN_MARGIN_S = 0.3


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


def _quiet_threshold(db: np.ndarray) -> float:
    loud, floor = np.percentile(db, 95), np.percentile(db, 5)
    return float(max(loud - QUIET_BELOW_PEAK_DB, floor + QUIET_ABOVE_FLOOR_DB))


def quiet_runs(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of quiet stretches at least MIN_PAUSE_S long."""
    db = energy_db(audio)
    if db.size == 0:
        return []
    threshold = _quiet_threshold(db)
    quiet = np.concatenate([[False], db < threshold, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if (b - a) * HOP_S >= MIN_PAUSE_S:
            runs.append((a * HOP_S, b * HOP_S))
    return runs


def mark_pauses(segments: list[PhoneSegment], audio: np.ndarray) -> list[PhoneSegment]:
    """Cut SIL into the segments wherever the audio is quiet for MIN_PAUSE_S or longer."""
    out = list(segments)  # gaps left by dropped pieces become SIL when the segments are tiled
    for start, run_end in quiet_runs(audio):
        # a stop's closure is silent: the pause ends where a stop at its end starts
        closures = [
            max(s.start, run_end - STOP_REACH_S)
            for s in out
            if s.phone in STOPS and s.start < run_end and s.end > run_end - STOP_REACH_S
        ]
        end = min([run_end, *closures])
        if end - start < MIN_PAUSE_S:
            continue
        kept: list[PhoneSegment] = []
        for seg in out:
            if seg.end <= start or seg.start >= end:
                kept.append(seg)
                continue
            if start - seg.start >= MIN_PIECE_S:
                kept.append(PhoneSegment(seg.phone, seg.start, start))
            if seg.end - end >= MIN_PIECE_S:
                kept.append(PhoneSegment(seg.phone, end, seg.end))
        kept.append(PhoneSegment(SIL, start, end))
        out = sorted(kept, key=lambda s: s.start)
    return out


def snap_onsets(segments: list[PhoneSegment], audio: np.ndarray) -> list[PhoneSegment]:
    """Start each phone that follows silence where the sound starts: an aligner often lets the
    silence model take the quiet first frames of a word (the murmur of an initial m or b), up to
    MAX_ONSET_SHIFT_S of them."""
    db = energy_db(audio)
    if db.size == 0:
        return list(segments)
    threshold = _quiet_threshold(db)
    out = list(segments)
    for i in range(1, len(out)):
        before, seg = out[i - 1], out[i]
        if before.phone != SIL or seg.phone == SIL:
            continue
        k = min(round(seg.start / HOP_S), db.size)
        lowest = max(int(np.ceil((seg.start - MAX_ONSET_SHIFT_S) / HOP_S)), int(np.ceil(before.start / HOP_S)) + 1)
        j = k
        while j - 1 >= lowest and db[j - 1] >= threshold:
            j -= 1
        if j < k:
            out[i - 1] = PhoneSegment(SIL, before.start, j * HOP_S)
            out[i] = PhoneSegment(seg.phone, j * HOP_S, seg.end)
    return out


def speech_span(audio: np.ndarray) -> tuple[int, int]:
    """[start, end) samples from SPAN_MARGIN_S before the first loud frame to as far after the last:
    the part worth decoding (seconds of room tone around the speech only shift the decoder's
    cepstral mean, and with it the phone boundaries)."""
    db = energy_db(audio)
    loud = np.flatnonzero(db >= _quiet_threshold(db)) if db.size else np.zeros(0, int)
    if loud.size == 0:
        return 0, len(audio)
    hop = round(HOP_S * SAMPLE_RATE)
    margin = round(SPAN_MARGIN_S * SAMPLE_RATE)
    return max(0, int(loud[0]) * hop - margin), min(len(audio), (int(loud[-1]) + 2) * hop + margin)


def shift(segments: list[PhoneSegment], seconds: float) -> list[PhoneSegment]:
    """The segments ``seconds`` later."""
    return [PhoneSegment(s.phone, s.start + seconds, s.end + seconds) for s in segments]

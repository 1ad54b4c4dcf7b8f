"""Timed phone segments: normalisation, per-frame sampling and StyleTalk's 41-symbol index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InputError

SIL = "SIL"

# The 39 CMU ARPAbet phones (no stress) plus SIL.
ARPABET = [
    "AA",
    "AE",
    "AH",
    "AO",
    "AW",
    "AY",
    "B",
    "CH",
    "D",
    "DH",
    "EH",
    "ER",
    "EY",
    "F",
    "G",
    "HH",
    "IH",
    "IY",
    "JH",
    "K",
    "L",
    "M",
    "N",
    "NG",
    "OW",
    "OY",
    "P",
    "R",
    "S",
    "SH",
    "T",
    "TH",
    "UH",
    "UW",
    "V",
    "W",
    "Y",
    "Z",
    "ZH",
]
PHONES = frozenset([*ARPABET, SIL])

# StyleTalk's phoneme index (phindex.json of its samples): alphabetical, NSN (noise) = 24, SIL = 31.
STYLETALK_SYMBOLS = tuple(sorted([*ARPABET, "NSN", SIL]))
STYLETALK_INDEX = {p: i for i, p in enumerate(STYLETALK_SYMBOLS)}
STYLETALK_SIL = STYLETALK_INDEX[SIL]
STYLETALK_FPS = 30.0
# StyleTalk's labels (made with the AVCT tool chain) sit about 40 ms later than the phones pocketsphinx
# finds in the same audio. Over the 11 sample clips, exact agreement of recognize_phones by lag:
# 0 ms 0.471, 20 ms 0.566, 30 ms 0.606, 40 ms 0.618, 50 ms 0.603, 60 ms 0.569 (a phone loop peaks at
# 40 ms too). pocketsphinx itself is on time against espeak-ng's phone events (median offset -3 to
# -7 ms), so the lag is the labels' convention; the StyleTalk model was trained on it. The sound alone
# says the same (core.testing.lips.label_lag: the formant band separates labelled vowels from labelled
# p/b/m best with the labels read 30-50 ms early, on every clip; espeak-ng's own labels 0-20 ms).
STYLETALK_LAG_S = 0.04


@dataclass(frozen=True)
class PhoneSegment:
    """One phone with its time span in seconds; ``phone`` is ARPAbet without stress, or ``SIL``."""

    phone: str  # "AA", "B", ..., and "SIL" for silence/noise
    start: float  # seconds
    end: float  # seconds


def normalize_phone(name: str) -> str:
    """ARPAbet upper case without stress; fillers, noise and unknown symbols become SIL."""
    p = name.strip().upper().rstrip("012")
    return p if p in PHONES else SIL


def tile(segments: list[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Make segments cover [0, duration] contiguously: sort, clip, fill gaps with SIL, merge SIL runs."""
    out: list[PhoneSegment] = []
    t = 0.0
    for seg in sorted(segments, key=lambda s: s.start):
        start, end = max(seg.start, t), min(seg.end, duration)
        if end - start <= 1e-6:
            continue
        if start - t > 1e-6:
            out.append(PhoneSegment(SIL, t, start))
        out.append(PhoneSegment(normalize_phone(seg.phone), start, end))
        t = end
    if duration - t > 1e-6 or not out:
        out.append(PhoneSegment(SIL, t, max(duration, t)))
    merged: list[PhoneSegment] = []
    for seg in out:
        if merged and seg.phone == SIL and merged[-1].phone == SIL:
            merged[-1] = PhoneSegment(SIL, merged[-1].start, seg.end)
        else:
            merged.append(seg)
    return merged


def phones_to_frames(segments: list[PhoneSegment], fps: float, n_frames: int) -> list[str]:
    """The phone at each frame's centre (frame i covers i/fps to (i+1)/fps); SIL outside the segments."""
    frames = [SIL] * n_frames
    if n_frames <= 0:
        return frames
    centres = (np.arange(n_frames) + 0.5) / float(fps)
    for seg in segments:
        lo, hi = np.searchsorted(centres, [seg.start, seg.end], side="left")
        for i in range(int(lo), int(hi)):
            frames[i] = seg.phone
    return frames


def check_styletalk_indices(phonemes: Any) -> np.ndarray:
    """``phonemes`` as (n,) int64 StyleTalk indices (one per 30 fps frame), or an InputError saying what is wrong."""
    seq = np.asarray(phonemes)
    if seq.ndim != 1 or not np.issubdtype(seq.dtype, np.integer):
        raise InputError("phonemes must be a flat list of integer indices (one per 30 fps frame)")
    if seq.size and (seq.min() < 0 or seq.max() >= len(STYLETALK_SYMBOLS)):
        raise InputError(f"phoneme indices must be in 0..{len(STYLETALK_SYMBOLS) - 1} (StyleTalk's phindex)")
    return seq.astype(np.int64)


def styletalk_segments(seq: np.ndarray, lag: float = STYLETALK_LAG_S) -> list[PhoneSegment]:
    """Phone segments of 30 fps StyleTalk indices, ``lag`` seconds earlier (the inverse of
    :func:`styletalk_indices`: the timing of recognized phones); noise is silence."""
    out: list[PhoneSegment] = []
    for k, index in enumerate(seq.tolist()):
        phone = normalize_phone(STYLETALK_SYMBOLS[index])
        start = k / STYLETALK_FPS - lag
        if out and out[-1].phone == phone:
            out[-1] = PhoneSegment(phone, out[-1].start, start + 1 / STYLETALK_FPS)
        else:
            out.append(PhoneSegment(phone, start, start + 1 / STYLETALK_FPS))
    return out


def styletalk_indices(segments: list[PhoneSegment], n_frames: int, lag: float = STYLETALK_LAG_S) -> np.ndarray:
    """(n_frames,) int64 StyleTalk phoneme indices at 30 fps; SIL (31) where no phone is present.

    Phones are delayed by ``lag`` seconds to follow the timing convention of StyleTalk's labels.
    """
    shifted = [PhoneSegment(s.phone, s.start + lag, s.end + lag) for s in segments]
    return np.array(
        [STYLETALK_INDEX.get(p, STYLETALK_SIL) for p in phones_to_frames(shifted, STYLETALK_FPS, n_frames)],
        dtype=np.int64,
    )

"""Does a forced alignment fit the audio? Its phones checked against free phone recognition.

Two signs, over the loud 10 ms frames (pauses and room tone left out), against a phone loop run on
the same audio: ``agreement``, the share of frames whose aligned phone is of the same broad class
(vowel, bilabial, labiodental, stop, nasal, fricative, glide, silence) as a recognized phone within
±30 ms — a wrong transcript puts stops on vowels and silence on speech; and ``ratio``, the aligner's
acoustic score per frame over the phone loop's (the loop is free, so about 1 for a right transcript
and several times worse for a wrong one), capped at RATIO_CAP. The fit is agreement - 0.1 * ratio.

Measured on 56 clips of the voices set (core.testing.voices: 8 voices, 7 conditions) with their own
transcript and with another sentence's: right transcripts fit 0.204 and up, wrong ones 0.151 and
down, or found no alignment path at all (35 of 56); MIN_FIT sits in the gap. On every other clip of
the set (168, `mouthpiece bench lipsync --set voices --every 2`) it keeps 99.4% of the right
transcripts and refuses 98.8% of the wrong ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio import SAMPLE_RATE
from core.phonetics import sphinx
from core.phonetics.pauses import quiet_runs
from core.phonetics.segments import SIL

RATIO_WEIGHT = 0.1
RATIO_CAP = 6.0
MIN_FIT = 0.18
TOLERANCE_FRAMES = 3
WINDOW_S = 0.5
"""Span over which the worst-matching part of a rejected transcript is located for the message."""
SHORT_TRANSCRIPT = 0.3
"""Share of the loud frames aligned to silence from which a rejected transcript is called too short."""
MISSING_WORDS_S = 0.3
"""One stretch of speech this long left on silence by the alignment (loud, and the phone loop hears
phones) means the transcript is missing words. On two thirds of the voices set (224 clips) a right
transcript's longest such stretch is under 0.25 s in 99% of clips (one, espeak reading "$4" as
"dollar four", leaves 0.52 s); of the transcripts the fit test alone keeps, 72 of 82 with their last
30% of words cut, 76 of 139 with their first 30% cut and 119 of 189 with the last word cut leave a
longer one."""
NO_PATH = "no way of saying its words fits the sound; is it the transcript of this clip?"
CLASSES: dict[str, str] = {
    **dict.fromkeys(["P", "B", "M"], "bilabial"),
    **dict.fromkeys(["F", "V"], "labiodental"),
    **dict.fromkeys(["T", "D", "K", "G"], "stop"),
    **dict.fromkeys(["N", "NG"], "nasal"),
    **dict.fromkeys(["S", "Z", "SH", "ZH", "CH", "JH", "TH", "DH", "HH"], "fricative"),
    **dict.fromkeys(["L", "R", "W", "Y", "ER"], "glide"),
    SIL: SIL,
}
"""Broad phone classes (anything else is a vowel)."""


@dataclass(frozen=True)
class Verdict:
    fits: bool
    reason: str  # why not, in words the user can act on; "" when it fits


def _per_frame(phones: list[sphinx.ScoredPhone], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Phone class and score per 10 ms frame (each phone's score spread evenly over its frames)."""
    names = np.full(n, SIL, dtype=object)
    scores = np.zeros(n)
    for p in phones:
        a = round(p.segment.start * sphinx.FRAME_RATE)
        b = min(round(p.segment.end * sphinx.FRAME_RATE), n)
        if b > a:
            names[a:b] = CLASSES.get(p.segment.phone, "vowel")
            scores[a:b] = p.score / (b - a)
    return names, scores


def loud_frames(audio: np.ndarray, n: int) -> np.ndarray:
    """True on the 10 ms frames outside quiet runs (pauses and padding)."""
    loud = np.ones(n, bool)
    for a, b in quiet_runs(audio):
        loud[int(a * sphinx.FRAME_RATE) : int(b * sphinx.FRAME_RATE)] = False
    return loud


def judge(
    aligned: list[sphinx.ScoredPhone], free: list[sphinx.ScoredPhone], audio: np.ndarray, offset: float = 0.0
) -> Verdict:
    """Whether the alignment fits; if not, a reason (times ``offset`` seconds later, for a clip cut
    out of a longer one)."""
    n = int(len(audio) / SAMPLE_RATE * sphinx.FRAME_RATE)
    loud = loud_frames(audio, n)
    if n == 0 or not loud.any():
        return Verdict(True, "")
    a_class, a_score = _per_frame(aligned, n)
    f_class, f_score = _per_frame(free, n)
    match = np.zeros(n, bool)
    for lag in range(-TOLERANCE_FRAMES, TOLERANCE_FRAMES + 1):
        match |= a_class == np.roll(f_class, lag)
    agreement = float(match[loud].mean())
    ratio = min(float(a_score[loud].mean() / min(f_score[loud].mean(), -1e-9)), RATIO_CAP)
    if agreement - RATIO_WEIGHT * ratio >= MIN_FIT:
        return _unsaid_speech(a_class, loud & (f_class != SIL), offset)
    if float(np.mean(a_class[loud] == SIL)) > SHORT_TRANSCRIPT:
        return Verdict(False, "the clip says more than the transcript; is a part missing?")
    w = max(1, min(int(loud.sum()), round(WINDOW_S * sphinx.FRAME_RATE)))
    worst = int(np.argmin(np.convolve(match[loud].astype(float), np.ones(w), mode="valid")))
    at = float(np.flatnonzero(loud)[worst + w // 2]) / sphinx.FRAME_RATE + offset
    return Verdict(False, f"the clip says something else around {at:.1f} s; check the words there")


def _unsaid_speech(aligned: np.ndarray, heard: np.ndarray, offset: float) -> Verdict:
    """Refuse an alignment that leaves MISSING_WORDS_S or more of heard speech (``heard``: loud frames
    where the phone loop hears a phone) on silence in one stretch: the transcript is missing words."""
    words = np.flatnonzero(aligned != SIL)
    unsaid = np.concatenate([[False], heard & (aligned == SIL), [False]])
    edges = np.flatnonzero(np.diff(unsaid.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    if words.size == 0 or starts.size == 0:
        return Verdict(True, "")
    longest = int(np.argmax(ends - starts))
    a, b = int(starts[longest]), int(ends[longest])
    if b - a < MISSING_WORDS_S * sphinx.FRAME_RATE:
        return Verdict(True, "")
    at = a / sphinx.FRAME_RATE + offset
    if a > words[-1]:
        return Verdict(
            False, f"the clip goes on after {at:.1f} s where the transcript has ended; are its last words missing?"
        )
    if b <= words[0]:
        return Verdict(
            False,
            f"the clip says something before {b / sphinx.FRAME_RATE + offset:.1f} s that the transcript does not; "
            "are its first words missing?",
        )
    return Verdict(
        False, f"the clip says something at {at:.1f} s that the transcript does not; are words missing there?"
    )

"""How closed and rounded the lips of an ARKit track are, measured on a rig, against phone labels.

The lip gap is measured between the ``lip_upper_mid`` and ``lip_lower_mid`` landmarks, along the direction
they part when the jaw opens; "closed" means within 15% of the way from rest to jawOpen=1. The figures of
`mouthpiece bench lipsync` and the engine tests use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.rig import FaceRig
from core.track import Track

LABEL_FPS = 30.0
CLOSED_FRACTION = 0.15
BILABIAL_TOLERANCE = 0.04
ROUNDING_THRESHOLD = 0.2
BILABIALS = frozenset({"P", "B", "M"})
OPEN_VOWELS = frozenset({"AA", "AE", "AO", "AW", "AY", "EH"})
"""Open and open-mid vowels. AH is left out: without stress marks it is mostly schwa, a mid vowel
that speakers often say with nearly closed lips."""
OPEN_AND_MID_VOWELS = OPEN_VOWELS | {"AH", "ER"}
"""The stricter set of the voices set's false-closure figure: schwa and r-coloured vowels too."""
ROUNDED = frozenset({"OW", "UW", "W", "OY"})
LAG_SEARCH_S = 0.08
LAG_STEP_S = 0.01


@dataclass
class Scores:
    """Counts behind each figure (numerator, denominator)."""

    bilabial: tuple[int, int]
    false_closure: tuple[int, int]
    rounding: tuple[int, int]
    rest: tuple[int, int]
    seconds: float
    wall: float
    cpu: float = 0.0

    def figure(self, name: str) -> float:
        if name in ("rtf", "cpu_rtf"):
            spent = self.wall if name == "rtf" else self.cpu
            return spent / self.seconds if self.seconds else float("nan")
        num, den = getattr(self, name)
        return num / den if den else float("nan")

    def __add__(self, other: Scores) -> Scores:
        add = lambda a, b: (a[0] + b[0], a[1] + b[1])  # noqa: E731
        return Scores(
            add(self.bilabial, other.bilabial),
            add(self.false_closure, other.false_closure),
            add(self.rounding, other.rounding),
            add(self.rest, other.rest),
            self.seconds + other.seconds,
            self.wall + other.wall,
            self.cpu + other.cpu,
        )


class LipGauge:
    """Measures the lip gap of ARKit weights on a rig."""

    def __init__(self, rig: FaceRig) -> None:
        self.channels = list(rig.channels)
        up, lo = rig.landmark("lip_upper_mid"), rig.landmark("lip_lower_mid")
        self._rest = rig.vertices[up] - rig.vertices[lo]
        self._basis = rig.basis[:, up] - rig.basis[:, lo]  # (C, 3)
        jaw = self._basis[self.channels.index("jawOpen")]
        opening = self._rest + jaw
        self._axis = jaw / np.linalg.norm(jaw)  # upper minus lower lip grows along it as the jaw opens
        self.rest_gap = float(self._rest @ self._axis)
        self.open_gap = float(opening @ self._axis)
        self.closed_below = self.rest_gap + CLOSED_FRACTION * (self.open_gap - self.rest_gap)

    def gap(self, track: Track) -> np.ndarray:
        """(T,) signed lip gap along the opening direction (the rig's units)."""
        w = np.zeros((track.num_frames, len(self.channels)), dtype=np.float64)
        for i, ch in enumerate(track.channels):
            if ch in self.channels:
                w[:, self.channels.index(ch)] = track.values[:, i]
        return (self._rest[None, :] + w @ self._basis) @ self._axis

    def closed(self, track: Track) -> np.ndarray:
        return self.gap(track) <= self.closed_below


def score(
    labels: Sequence[str],
    track: Track,
    gauge: LipGauge,
    wall: float,
    seconds: float,
    cpu: float = 0.0,
    open_vowels: frozenset[str] = OPEN_VOWELS,
    label_lag: float = 0.0,
) -> Scores:
    """Score a track against per-frame labels at 30 fps, sampling the track at each label's centre less
    ``label_lag``, the seconds by which the labels run behind the sound (StyleTalk's: see
    :func:`label_lag`): at the nearest frame (the earlier of two as near)."""
    n = len(labels)
    at = np.floor(((np.arange(n) + 0.5) / LABEL_FPS - label_lag) * track.fps + 0.5 - 1e-6).astype(int)
    at = np.clip(at, 0, track.num_frames - 1)
    closed = gauge.closed(track)[at]
    rounding = (track.channel("mouthFunnel") + track.channel("mouthPucker"))[at] >= ROUNDING_THRESHOLD
    lab = np.array(labels)
    tol = round(BILABIAL_TOLERANCE * LABEL_FPS)  # frames either side
    runs = _runs(np.isin(lab, list(BILABIALS)))
    hit = sum(bool(closed[max(0, a - tol) : min(n, b + tol)].any()) for a, b in runs)
    vowel = np.isin(lab, list(open_vowels))
    rnd = np.isin(lab, list(ROUNDED))
    sil = lab == "SIL"
    return Scores(
        bilabial=(hit, len(runs)),
        false_closure=(int((closed & vowel).sum()), int(vowel.sum())),
        rounding=(int((rounding & rnd).sum()), int(rnd.sum())),
        rest=(int((closed & sil).sum()), int(sil.sum())),
        seconds=seconds,
        wall=wall,
        cpu=cpu,
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def label_lag(clips: Sequence[tuple[np.ndarray, Sequence[str]]]) -> float:
    """Seconds by which 30 fps phone labels run behind their sound, found from the sound alone: the lag
    (within ±LAG_SEARCH_S) at which the formant band sits highest on the labelled open vowels against
    the labelled p/b/m, whose closures dip it deepest (``clips``: (16 kHz audio, labels) pairs)."""
    from core.engines.builtin.prosody import analyse

    lags = np.arange(-LAG_SEARCH_S, LAG_SEARCH_S + LAG_STEP_S / 2, LAG_STEP_S)
    separation = np.zeros(lags.size)
    for audio, labels in clips:
        prosody = analyse(audio)
        lab = np.asarray(labels)
        centres = (np.arange(lab.size) + 0.5) / LABEL_FPS
        vowel, bilabial = np.isin(lab, list(OPEN_AND_MID_VOWELS)), np.isin(lab, list(BILABIALS))
        for i, lag in enumerate(lags):
            depth = prosody.at("dip", centres - lag)
            separation[i] += depth[vowel].sum() - depth[bilabial].sum()
    return float(lags[int(np.argmax(separation))])

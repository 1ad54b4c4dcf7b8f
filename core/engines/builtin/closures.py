"""Lip closures the recognizers did not name: a classifier of the sound's closures (the deep dips of
the formant band) that says which are bilabial, from the spectrum's shape around each dip and what
the two recognitions put there.

Audio only, word recognition misses p/b/m most where the room rings or noise fills the closures (71%
of its misses have no bilabial recognized nearby), while the closure itself still shows in the sound:
91% of the voices set's p/b/m have a dip of DIP_DB or more. A logistic regression over each dip's
features (:func:`features`) gives the probability that it is a bilabial; where it reaches the room's
:func:`threshold` and no bilabial is recognized within AGREE_S, one is laid over the dip (the engine's
contacts then shut the lips over the dip's deep part). The weights (``closures.json``) are trained on
the voices set's even-numbered sentences by ``mouthpiece bench closures --write``; its odd ones
measure them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.engines.builtin.prosody import HOP, Prosody
from core.engines.builtin.room import REVERBERANT_RT60_S
from core.engines.builtin.visemes import BILABIALS
from core.phonetics.segments import SIL, PhoneSegment

WEIGHTS = Path(__file__).with_name("closures.json")
DIP_DB = 10.0
"""A closure candidate: a local minimum of the formant band this many dB below its peak..."""
EDGE_DB = 6.0
MAX_SIDE_HOPS = 15
"""... whose sides (where the band is back within EDGE_DB of its peak) are looked for this far away."""
LOCAL_HOPS = 5
VOICE_NEAR_HOPS = 15
"""It is the deepest point within LOCAL_HOPS, with voice within VOICE_NEAR_HOPS (a closure is inside
speech or at its edge)."""
CEPSTRA = 10
"""Cepstral coefficients of the clip-normalised mel spectrum kept per sampled hop."""
REVERBERANT_THRESHOLD = 0.2
"""Probability from which a closure in a reverberant room is taken for a bilabial: there word
recognition misses most (bilabial closure in reverb on the voices set rises from 0.63 before the
classifier to 0.75, false closure stays under 0.05; at 0.3 it is 0.69)."""
DRY_THRESHOLD = 0.5
"""The same in a dry room, where recognition misses few (34 of the StyleTalk clips' 142 bilabials): at
0.2 the dry StyleTalk clips get 126 closures of which 10 are bilabial, a lip snap on a vowel or a
consonant about every 1.5 s; at 0.5, 17 of which 4 are, while on the voices set's dry conditions
77% of the closures it takes are bilabial. (A threshold falling from 0.5 to 0.2 between RT60 0.35 and
0.5 s adds fewer closures to the StyleTalk clips' mildly reverberant rooms, RT60 0.36-0.39 s, but
bilabial closure in reverb on the voices set falls to 0.74.)"""
AGREE_S = 0.08
"""A recognized bilabial this close to a closure is the same one."""
HALF_WIDTH_S = 0.04
"""Half the length of the bilabial laid over a closure (the contact then finds the dip's deep part)."""
PHONE_CLASSES: tuple[frozenset[str], ...] = (
    frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}),
    frozenset({"T", "D", "K", "G"}),
    frozenset({"N", "NG"}),
    frozenset({"L", "R", "W", "Y", "HH"}),
    frozenset({"F", "V", "TH", "DH", "S", "Z", "SH", "ZH", "CH", "JH"}),
    frozenset({SIL}),
    BILABIALS,
)
"""What a recognition may put at a closure: vowels, oral stops, nasals, approximants, fricatives,
silence, bilabials."""
NEAREST_CAP_S = 0.3
FEATURES = 7 * CEPSTRA + 5 + 2 * (len(PHONE_CLASSES) + 1)


@dataclass(frozen=True)
class Closure:
    """A dip of the formant band: its deepest hop and the hops where it starts and ends."""

    deepest: int
    start: int
    end: int

    @property
    def time(self) -> float:
        return self.deepest * HOP


def find_closures(prosody: Prosody) -> list[Closure]:
    """The closure candidates of a clip (see DIP_DB, LOCAL_HOPS)."""
    dip, n = prosody.dip, prosody.dip.size
    out: list[Closure] = []
    for k in range(1, n - 1):
        if dip[k] > -DIP_DB or dip[k] > dip[max(0, k - LOCAL_HOPS) : k + LOCAL_HOPS + 1].min():
            continue
        if dip[k] == dip[k - 1] or prosody.voice[max(0, k - VOICE_NEAR_HOPS) : k + VOICE_NEAR_HOPS + 1].max() < 0.5:
            continue  # a flat bottom counts once
        a = k
        while a > 0 and k - a < MAX_SIDE_HOPS and dip[a] < -EDGE_DB:
            a -= 1
        b = k
        while b < n - 1 and b - k < MAX_SIDE_HOPS and dip[b] < -EDGE_DB:
            b += 1
        out.append(Closure(k, a, b))
    return out


def features(
    prosody: Prosody,
    closures: Sequence[Closure],
    word: Sequence[PhoneSegment],
    loop: Sequence[PhoneSegment],
    lag: float,
) -> np.ndarray:
    """(closures, features): the cepstrum of the clip-normalised mel spectrum at seven hops across each
    closure (before it, at its start, midway in, deepest, midway out, its end, after it); its depth,
    the lengths of its two sides, the room and the voice there; and, for each of the word-path and
    phone-loop phones (timed ``lag`` seconds before the sound), the class of the phone at the closure
    and how far the nearest bilabial is."""
    mel = prosody.mel
    voiced = prosody.voice > 0.5
    reference = mel[voiced].mean(axis=0) if voiced.any() else mel.mean(axis=0)
    cepstra = (mel - reference) @ _dct_basis(mel.shape[1]).T
    last = mel.shape[0] - 1
    rows = []
    for c in closures:
        k, a, b = c.deepest, c.start, c.end
        hops = np.clip([a - 2, a, (a + k) // 2, k, (k + b) // 2, b, b + 2], 0, last)
        shape = cepstra[hops].ravel()
        where = [prosody.dip[k], (k - a) * HOP, (b - k) * HOP, prosody.room[k], prosody.voice[k]]
        said = [v for phones in (word, loop) for v in _phone_context(phones, c.time - lag)]
        rows.append(np.concatenate([shape, where, said]))
    return np.array(rows).reshape(len(rows), FEATURES)


@functools.cache
def _dct_basis(bands: int) -> np.ndarray:
    """(CEPSTRA, bands) orthonormal DCT-II rows: mel spectrum → cepstrum."""
    k, n = np.arange(CEPSTRA)[:, None], np.arange(bands)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * bands)) * np.sqrt(2.0 / bands)
    basis[0] /= np.sqrt(2.0)
    return basis


def _phone_context(phones: Sequence[PhoneSegment], t: float) -> list[float]:
    """One-hot class of the phone at ``t``, and seconds to the nearest bilabial (capped)."""
    at = next((p.phone for p in phones if p.start <= t < p.end), SIL)
    onehot = [float(at in cls) for cls in PHONE_CLASSES]
    gaps = [abs((p.start + p.end) / 2 - t) for p in phones if p.phone in BILABIALS]
    return [*onehot, min(min(gaps, default=NEAREST_CAP_S), NEAREST_CAP_S)]


def threshold(rt60: float) -> float:
    """The probability from which a closure is taken for a bilabial in a room that rings ``rt60`` s."""
    return REVERBERANT_THRESHOLD if rt60 >= REVERBERANT_RT60_S else DRY_THRESHOLD


@dataclass(frozen=True)
class Classifier:
    """Logistic regression on standardised features."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict[str, object]:
        return {k: np.round(np.asarray(getattr(self, k)), 6).tolist() for k in ("weights", "bias", "mean", "scale")}


@functools.cache
def classifier() -> Classifier:
    """The shipped weights (closures.json)."""
    data = json.loads(WEIGHTS.read_text())
    return Classifier(np.array(data["weights"]), float(data["bias"]), np.array(data["mean"]), np.array(data["scale"]))


def add_closures(
    phones: Sequence[PhoneSegment], closures: Sequence[Closure], probability: np.ndarray, lag: float, least: float
) -> list[PhoneSegment]:
    """``phones`` (contiguous, timed ``lag`` before the sound) with a bilabial over each closure of
    probability ``least`` or more that has none recognized within AGREE_S (never over silence)."""
    out = list(phones)
    have = [(p.start + p.end) / 2 for p in phones if p.phone in BILABIALS]
    for c, p in zip(closures, probability, strict=True):
        t = c.time - lag
        if p < least or any(abs(h - t) < AGREE_S for h in have):
            continue
        i = next((k for k, seg in enumerate(out) if seg.start <= t < seg.end), None)
        if i is None or out[i].phone == SIL:
            continue
        host = out[i]
        a, e = max(host.start, t - HALF_WIDTH_S), min(host.end, t + HALF_WIDTH_S)
        pieces = [PhoneSegment(host.phone, host.start, a)] if a > host.start else []
        pieces.append(PhoneSegment("B", a, e))
        if e < host.end:
            pieces.append(PhoneSegment(host.phone, e, host.end))
        out[i : i + 1] = pieces
        have.append(t)
    return out

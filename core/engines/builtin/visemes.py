"""Phone → articulatory targets, and the dominance each phone exerts on each articulator.

Targets live in a small articulatory space (``PARAMS``) that :mod:`.mouth` maps onto the ARKit mouth
and jaw channels. Dominance follows Cohen & Massaro (1993): every phone pulls each articulator toward
its target with a strength ``alpha`` that decays exponentially away from the phone, faster after it
(carry-over) than before it (anticipation). Lip closure (p/b/m) and lip-to-teeth contact (f/v) are
also hard constraints, enforced in :mod:`.coarticulation`, so that the contact is always reached.
"""

from __future__ import annotations

from dataclasses import dataclass

PARAMS: tuple[str, ...] = (
    "jaw",  # jaw opening 0..1
    "close",  # lips pressed together whatever the jaw does (bilabials)
    "funnel",  # lips rounded and open (o, sh)
    "pucker",  # lips rounded and protruded (w, u)
    "spread",  # lips stretched sideways (i, s)
    "roll_lower",  # lower lip rolled in toward the upper teeth (f, v)
    "upper_up",  # upper lip raised (f, v, open front vowels)
    "lower_down",  # lower lip lowered off the teeth (open vowels)
    "press",  # lips pressed (p, b build-up)
    "tongue",  # tongue tip visible (th, l)
)
P = {name: i for i, name in enumerate(PARAMS)}

BILABIALS = frozenset({"P", "B", "M"})
LABIODENTALS = frozenset({"F", "V"})
ROUNDED = frozenset({"W", "UW", "OW", "OY", "UH", "AO"})
SILENCE = frozenset({"SIL", "NSN", "SPN", "NOISE", "+NSN+", "+SPN+"})

_T: dict[str, dict[str, float]] = {
    # vowels
    "AA": {"jaw": 0.62, "lower_down": 0.30, "upper_up": 0.05},
    "AE": {"jaw": 0.52, "spread": 0.25, "lower_down": 0.30, "upper_up": 0.12},
    "AH": {"jaw": 0.45, "lower_down": 0.22},
    "AO": {"jaw": 0.50, "funnel": 0.30, "pucker": 0.10, "lower_down": 0.10},
    "AW": {"jaw": 0.52, "funnel": 0.22, "pucker": 0.12, "lower_down": 0.18},
    "AY": {"jaw": 0.52, "spread": 0.15, "lower_down": 0.25},
    "EH": {"jaw": 0.40, "spread": 0.22, "lower_down": 0.18},
    "ER": {"jaw": 0.25, "funnel": 0.22, "pucker": 0.12},
    "EY": {"jaw": 0.34, "spread": 0.32, "lower_down": 0.12},
    "IH": {"jaw": 0.28, "spread": 0.30, "lower_down": 0.08},
    "IY": {"jaw": 0.18, "spread": 0.45},
    "OW": {"jaw": 0.38, "funnel": 0.42, "pucker": 0.30},
    "OY": {"jaw": 0.40, "funnel": 0.38, "pucker": 0.25},
    "UH": {"jaw": 0.26, "funnel": 0.28, "pucker": 0.24},
    "UW": {"jaw": 0.16, "funnel": 0.32, "pucker": 0.55},
    # bilabials: the lips close; the jaw stays nearly shut
    "P": {"jaw": 0.04, "close": 1.0, "press": 0.45},
    "B": {"jaw": 0.04, "close": 1.0, "press": 0.30},
    "M": {"jaw": 0.03, "close": 1.0, "press": 0.20},
    # labiodentals: lower lip to the upper teeth
    "F": {"jaw": 0.08, "roll_lower": 0.65, "upper_up": 0.22},
    "V": {"jaw": 0.08, "roll_lower": 0.60, "upper_up": 0.20},
    # dentals and laterals: tongue tip
    "TH": {"jaw": 0.16, "tongue": 0.32, "spread": 0.10, "lower_down": 0.12},
    "DH": {"jaw": 0.15, "tongue": 0.25, "spread": 0.10, "lower_down": 0.12},
    "L": {"jaw": 0.22, "tongue": 0.18, "lower_down": 0.10},
    # alveolars, sibilants, post-alveolars
    "T": {"jaw": 0.14, "spread": 0.10, "lower_down": 0.15},
    "D": {"jaw": 0.16, "spread": 0.08, "lower_down": 0.15},
    "N": {"jaw": 0.16, "spread": 0.06, "lower_down": 0.12},
    "S": {"jaw": 0.07, "spread": 0.28, "lower_down": 0.18, "upper_up": 0.08},
    "Z": {"jaw": 0.07, "spread": 0.25, "lower_down": 0.18, "upper_up": 0.08},
    "SH": {"jaw": 0.10, "funnel": 0.38, "pucker": 0.18},
    "ZH": {"jaw": 0.10, "funnel": 0.36, "pucker": 0.16},
    "CH": {"jaw": 0.10, "funnel": 0.34, "pucker": 0.16},
    "JH": {"jaw": 0.11, "funnel": 0.32, "pucker": 0.14},
    # velars, glottal, approximants
    "K": {"jaw": 0.20, "lower_down": 0.12},
    "G": {"jaw": 0.20, "lower_down": 0.12},
    "NG": {"jaw": 0.18, "lower_down": 0.10},
    "HH": {"jaw": 0.30, "lower_down": 0.12},
    "R": {"jaw": 0.16, "funnel": 0.24, "pucker": 0.18},
    "W": {"jaw": 0.10, "funnel": 0.30, "pucker": 0.62},
    "Y": {"jaw": 0.12, "spread": 0.30, "lower_down": 0.10},
    # speech the recognizer did not label: a neutral, half-open mouth
    "VOICED": {"jaw": 0.38, "lower_down": 0.15},
}

VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW", "VOICED"})


UNROUNDED_VOWEL_CLAIM = 2.0
ROUNDING_ANTICIPATION = 0.10
"""Seconds over which lip rounding reaches back before a rounded phone (decay time)."""


@dataclass(frozen=True)
class Viseme:
    """An articulatory target with its per-articulator dominance and decay times (seconds)."""

    target: tuple[float, ...]
    alpha: tuple[float, ...]
    tau_before: tuple[float, ...]
    tau_after: tuple[float, ...]


def _alpha(phone: str) -> dict[str, float]:
    """How strongly ``phone`` claims each articulator (1 = an ordinary claim)."""
    a = dict.fromkeys(PARAMS, 1.0)
    if phone in VOWELS:
        a["jaw"] = 1.6
    else:
        a["jaw"] = 0.5  # consonants leave the jaw mostly to the vowels around them
    if phone in BILABIALS:
        a.update(close=1.5, press=1.5, jaw=1.2)
    if phone in LABIODENTALS:
        a.update(roll_lower=1.5, upper_up=1.5, jaw=1.0)
    if phone in ROUNDED:
        a.update(funnel=3.0, pucker=3.0)
    elif phone in VOWELS:
        a.update(funnel=UNROUNDED_VOWEL_CLAIM, pucker=UNROUNDED_VOWEL_CLAIM)  # a vowel keeps its own lips
    elif phone not in {"SH", "ZH", "CH", "JH", "R"}:
        # other consonants borrow the lip shape of their neighbours
        a.update(funnel=0.25, pucker=0.25, spread=0.3)
    if phone in {"TH", "DH", "L"}:
        a["tongue"] = 3.0
    return a


def _tau(phone: str) -> tuple[dict[str, float], dict[str, float]]:
    """Anticipation and carry-over decay times per articulator."""
    before = dict.fromkeys(PARAMS, 0.055)
    after = dict.fromkeys(PARAMS, 0.040)
    if phone in ROUNDED:  # lip protrusion starts well ahead of a rounded vowel
        before.update(funnel=ROUNDING_ANTICIPATION, pucker=ROUNDING_ANTICIPATION)
        after.update(funnel=0.06, pucker=0.07)
    if phone in BILABIALS | LABIODENTALS:
        before.update(close=0.03, press=0.03, roll_lower=0.03)
        after.update(close=0.025, press=0.025, roll_lower=0.025)
    return before, after


def _make(phone: str, target: dict[str, float]) -> Viseme:
    alpha = _alpha(phone)
    before, after = _tau(phone)
    return Viseme(
        target=tuple(float(target.get(p, 0.0)) for p in PARAMS),
        alpha=tuple(alpha[p] for p in PARAMS),
        tau_before=tuple(before[p] for p in PARAMS),
        tau_after=tuple(after[p] for p in PARAMS),
    )


VISEMES: dict[str, Viseme] = {ph: _make(ph, t) for ph, t in _T.items()}
REST = Viseme(
    target=tuple(0.0 for _ in PARAMS),
    alpha=tuple(2.0 for _ in PARAMS),
    tau_before=tuple(0.055 for _ in PARAMS),
    tau_after=tuple(0.040 for _ in PARAMS),
)
"""The resting mouth (silence): a strong claim to close the jaw and relax the lips."""


def viseme_for(phone: str) -> Viseme:
    """The viseme of an ARPAbet phone (stress digits ignored); silence and unknowns rest."""
    ph = phone.upper().rstrip("012")
    return VISEMES.get(ph, REST)

"""Emotion overlays on brows, eyes, cheeks, nose and mouth corners, scaled by a continuous intensity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.arkit import EMOTIONS

# ARKit weights at intensity 1 (FACS-inspired: happy = AU6+12, sad = AU1+4+15, surprise = AU1+2+5,
# fear = AU1+2+4+5+20, disgust = AU9+10+15, anger = AU4+5+7+23, contempt = unilateral AU12+14).
OVERLAYS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {
        "mouthSmileLeft": 0.65, "mouthSmileRight": 0.65, "cheekSquintLeft": 0.45, "cheekSquintRight": 0.45,
        "eyeSquintLeft": 0.30, "eyeSquintRight": 0.30, "mouthDimpleLeft": 0.20, "mouthDimpleRight": 0.20,
        "browOuterUpLeft": 0.10, "browOuterUpRight": 0.10,
    },
    "sad": {
        "browInnerUp": 0.75, "browDownLeft": 0.20, "browDownRight": 0.20, "mouthFrownLeft": 0.50,
        "mouthFrownRight": 0.50, "mouthShrugLower": 0.25, "eyeSquintLeft": 0.10, "eyeSquintRight": 0.10,
        "eyeLookDownLeft": 0.12, "eyeLookDownRight": 0.12,
    },
    "surprised": {
        "browInnerUp": 0.65, "browOuterUpLeft": 0.75, "browOuterUpRight": 0.75, "eyeWideLeft": 0.60,
        "eyeWideRight": 0.60,
    },
    "fear": {
        "browInnerUp": 0.80, "browOuterUpLeft": 0.35, "browOuterUpRight": 0.35, "browDownLeft": 0.15,
        "browDownRight": 0.15, "eyeWideLeft": 0.60, "eyeWideRight": 0.60, "mouthStretchLeft": 0.35,
        "mouthStretchRight": 0.35, "mouthFrownLeft": 0.10, "mouthFrownRight": 0.10,
    },
    "disgusted": {
        "noseSneerLeft": 0.60, "noseSneerRight": 0.60, "mouthUpperUpLeft": 0.30, "mouthUpperUpRight": 0.30,
        "browDownLeft": 0.40, "browDownRight": 0.40, "cheekSquintLeft": 0.30, "cheekSquintRight": 0.30,
        "eyeSquintLeft": 0.30, "eyeSquintRight": 0.30, "mouthFrownLeft": 0.20, "mouthFrownRight": 0.20,
    },
    "angry": {
        "browDownLeft": 0.75, "browDownRight": 0.75, "eyeSquintLeft": 0.35, "eyeSquintRight": 0.35,
        "noseSneerLeft": 0.25, "noseSneerRight": 0.25, "mouthPressLeft": 0.25, "mouthPressRight": 0.25,
        "mouthFrownLeft": 0.20, "mouthFrownRight": 0.20, "eyeWideLeft": 0.10, "eyeWideRight": 0.10,
    },
    "contempt": {
        "mouthSmileLeft": 0.45, "mouthDimpleLeft": 0.35, "cheekSquintLeft": 0.15, "eyeSquintLeft": 0.15,
        "browDownRight": 0.15, "mouthPressRight": 0.10,
    },
}  # fmt: skip

CORNER_CHANNELS = frozenset(
    {
        "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft",
        "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    }
)  # fmt: skip
"""Mouth corners: compatible with open vowels, not with closures or rounding."""
LIP_SHAPE_CHANNELS = frozenset(
    {"mouthPressLeft", "mouthPressRight", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthShrugLower"}
)
"""Lip shapes that would also narrow or open the lip gap: they yield to the jaw too."""

JAW_GAIN: dict[str, float] = {
    "neutral": 1.0, "happy": 1.05, "sad": 0.8, "surprised": 1.15, "fear": 1.0, "disgusted": 0.9,
    "angry": 1.1, "contempt": 0.85,
}  # fmt: skip
"""How much each emotion (at intensity 1) scales speech jaw opening."""

HEAD_OFFSET_DEG: dict[str, tuple[float, float, float]] = {
    "neutral": (0.0, 0.0, 0.0), "happy": (-1.5, 0.0, 1.0), "sad": (6.0, 0.0, -1.0),
    "surprised": (-3.0, 0.0, 0.0), "fear": (2.0, -1.5, 0.0), "disgusted": (-1.0, 2.0, -1.5),
    "angry": (2.5, 0.0, 0.0), "contempt": (-2.0, -3.0, 2.5),
}  # fmt: skip
"""Static head pose (pitch down, yaw, roll in degrees) each emotion adds at intensity 1."""


def emotion_weights(
    times: np.ndarray,
    emotion: str,
    intensity: float,
    keys: Sequence[tuple[float, str, float]] | None = None,
) -> np.ndarray:
    """(T, 8) weight of each emotion over time, in EMOTIONS order.

    With ``keys`` [(seconds, emotion, intensity)], weights are interpolated linearly between keys
    (held before the first and after the last); without them the given emotion holds throughout.
    """
    times = np.asarray(times, dtype=np.float64)
    if not keys:
        w = np.zeros((times.size, len(EMOTIONS)))
        w[:, EMOTIONS.index(emotion)] = intensity
        return w
    ordered = sorted(keys, key=lambda k: float(k[0]))
    kt = np.array([float(k[0]) for k in ordered])
    kv = np.zeros((len(ordered), len(EMOTIONS)))
    for i, (_, emo, inten) in enumerate(ordered):
        kv[i, EMOTIONS.index(emo)] = float(inten)
    return np.stack([np.interp(times, kt, kv[:, e]) for e in range(len(EMOTIONS))], axis=1)


def overlay(weights: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """(T, C) overlay values for the given channel order."""
    index = {c: i for i, c in enumerate(channels)}
    basis = np.zeros((len(EMOTIONS), len(channels)))
    for e, emo in enumerate(EMOTIONS):
        for ch, v in OVERLAYS[emo].items():
            basis[e, index[ch]] = v
    return weights @ basis


def jaw_gain(weights: np.ndarray) -> np.ndarray:
    """(T,) factor on speech jaw opening."""
    g = np.array([JAW_GAIN[e] - 1.0 for e in EMOTIONS])
    return 1.0 + weights @ g


def head_offset(weights: np.ndarray) -> np.ndarray:
    """(T, 3) static head pose in degrees (pitch down, yaw, roll)."""
    return weights @ np.array([HEAD_OFFSET_DEG[e] for e in EMOTIONS])

"""EMOTE's inputs: the audio as its pipeline sees it, and the per-frame condition vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.arkit import EMOTIONS
from core.errors import InputError

FPS = 25.0
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps


def prepare_audio(audio: np.ndarray) -> np.ndarray:
    """16 kHz float audio → wav2vec2 input values, exactly as upstream's loader and processor do.

    Upstream reads samples as int16 (``(x * 32768).astype(int16)``, truncating), keeps whole 640-sample
    (25 fps) frames, and normalises the utterance to zero mean, unit variance (var + 1e-7) in float32.
    Out-of-range samples are clipped rather than wrapped around as a bare cast would.
    """
    x = np.asarray(audio)
    if x.ndim != 1:
        raise InputError(f"EMOTE takes mono audio, got an array of shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("the audio contains NaN or infinite samples")
    frames = x.shape[0] // SAMPLES_PER_FRAME
    if frames < 1:
        raise InputError(f"the audio is too short for EMOTE: it needs at least {1 / FPS:.2f} s")
    pcm = np.clip(x[: frames * SAMPLES_PER_FRAME].astype(np.float64) * 32768.0, -32768, 32767).astype(np.int16)
    values = pcm.astype(np.float32)
    return (values - values.mean()) / np.sqrt(values.var() + 1e-7)


def intensity_vector(intensity: float, levels: int = 3) -> np.ndarray:
    """Continuous 0..1 → blend of the one-hot levels; 0, 0.5, 1 are exactly mild, medium, strong."""
    pos = float(np.clip(intensity, 0.0, 1.0)) * (levels - 1)
    lo = min(int(np.floor(pos)), levels - 1)
    hi = min(lo + 1, levels - 1)
    vec = np.zeros(levels, dtype=np.float32)
    vec[lo] += 1.0 - (pos - lo)
    vec[hi] += pos - lo
    return vec


def emotion_vector(emotion: str, intensity: float, levels: int = 3) -> np.ndarray:
    """[one-hot emotion (8, EMOTE order) ‖ intensity (levels)]; neutral always uses the first level."""
    if emotion not in EMOTIONS:
        raise InputError(f"unknown emotion '{emotion}'; choose one of: {', '.join(EMOTIONS)}")
    onehot = np.zeros(len(EMOTIONS), dtype=np.float32)
    onehot[EMOTIONS.index(emotion)] = 1.0
    level = intensity_vector(0.0 if emotion == "neutral" else intensity, levels)
    return np.concatenate([onehot, level])


def emotion_track(
    num_frames: int,
    emotion: str,
    intensity: float,
    keys: Sequence[tuple[float, str, float]] | None = None,
    levels: int = 3,
) -> np.ndarray:
    """(T, 8 + levels) emotion/intensity rows; keys (seconds, emotion, intensity) interpolate linearly."""
    if not keys:
        return np.tile(emotion_vector(emotion, intensity, levels), (num_frames, 1))
    ordered = sorted(keys, key=lambda k: float(k[0]))
    times = np.array([float(k[0]) for k in ordered])
    vecs = np.stack([emotion_vector(e, i, levels) for _, e, i in ordered])
    t = np.arange(num_frames) / FPS
    out = np.empty((num_frames, vecs.shape[1]), dtype=np.float32)
    for c in range(vecs.shape[1]):
        out[:, c] = np.interp(t, times, vecs[:, c])
    return out


def resolve_identity(value: Any, names: Sequence[str], count: int) -> int:
    """Identity index from an index, a digit string or a training-speaker name (case-insensitive)."""
    if value is None:
        return 0
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        index = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        index = int(value.strip())
    elif isinstance(value, str):
        lookup = {n.lower(): i for i, n in enumerate(names)}
        if value.strip().lower() not in lookup:
            known = ", ".join(names) if names else f"indices 0..{count - 1}"
            raise InputError(f"unknown EMOTE identity '{value}'; choose one of: {known}")
        return lookup[value.strip().lower()]
    else:
        raise InputError(f"EMOTE identity must be a name or an index, got {value!r}")
    if not 0 <= index < count:
        raise InputError(f"EMOTE identity {index} is out of range: this model has identities 0..{count - 1}")
    return index


def condition_matrix(emotions: np.ndarray, identity: int, n_identities: int) -> np.ndarray:
    """(T, 8 + levels + n_identities): emotion/intensity rows followed by the identity one-hot."""
    ident = np.zeros((emotions.shape[0], n_identities), dtype=np.float32)
    ident[:, identity] = 1.0
    return np.concatenate([emotions.astype(np.float32), ident], axis=1)

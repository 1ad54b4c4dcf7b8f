"""Test signals that need no synthesizer and no torch."""

from __future__ import annotations

import numpy as np


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A 16 kHz voiced-sounding test signal: a gliding tone with a 3 Hz syllable envelope plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    pitch = 200 + 150 * np.sin(2 * np.pi * 0.3 * t)
    tone = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / 16000) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32)

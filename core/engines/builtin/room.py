"""The room a voice was recorded in: its reverberation time from how fast the voice's energy falls, and
late-reverberation suppression (Lebart, Boucher and Denbigh 2001), for the phone loop to hear the voice
a second time with less of the room."""

from __future__ import annotations

import numpy as np

from core.audio import SAMPLE_RATE

MIN_FALL_DB = 15.0
MIN_FALL_S = 0.06
LOUD_WITHIN_DB = 20.0
"""A fall counts when it starts within LOUD_WITHIN_DB of the clip's loud level and drops at least
MIN_FALL_DB, one hop after another, for at least MIN_FALL_S."""
REVERBERANT_RT60_S = 0.35
"""Below this reverberation time a room is dry: speech in a dry room falls 300-1800 dB/s, in a room
with RT60 0.6 s about 110 dB/s."""
N_FFT, STFT_HOP = 512, 128
LATE_S = 0.05
"""Reverberation later than this after the direct sound is removed: earlier reflections are part of
the voice."""
FLOOR_DB = -15.0
"""Spectral gain never falls below this (no musical noise from over-subtraction)."""


def reverberation_time(db: np.ndarray, hop_s: float) -> float:
    """RT60 (seconds) from a 10 ms-hop energy envelope in dB: 60 dB over the median slope of the
    voice's falls between 5 and 20 dB below where they start; 0 where no fall is seen."""
    loud = float(np.percentile(db, 95)) - LOUD_WITHIN_DB
    falling = np.concatenate([np.diff(db) < 0, [False]])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], falling.astype(np.int8), [0]])))
    slopes = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        run = db[a : b + 1]
        if (b - a) * hop_s < MIN_FALL_S or run[0] < loud or run[0] - run[-1] < MIN_FALL_DB:
            continue
        k0 = int(np.argmax(run < run[0] - 5.0))
        k1 = int(np.argmax(run < run[0] - 20.0)) if (run < run[0] - 20.0).any() else run.size - 1
        if k1 > k0:
            slopes.append((run[k0] - run[k1]) / ((k1 - k0) * hop_s))
    return 60.0 / float(np.median(slopes)) if slopes else 0.0


def suppress_late_reverb(audio: np.ndarray, rt60: float) -> np.ndarray:
    """``audio`` less its late reverberation: each band's power LATE_S earlier, decayed as a room of
    ``rt60`` decays, is subtracted (spectral subtraction, the phase kept)."""
    from scipy.signal import ShortTimeFFT  # half a second to import: only for reverberant rooms
    from scipy.signal.windows import hann

    x = np.asarray(audio, np.float64)
    stft = ShortTimeFFT(hann(N_FFT, sym=False), STFT_HOP, SAMPLE_RATE)
    spec = stft.stft(x)  # (band, frame)
    power = np.abs(spec) ** 2
    lag = max(1, round(LATE_S * SAMPLE_RATE / STFT_HOP))
    late = np.zeros_like(power)
    late[:, lag:] = np.exp(-2.0 * (3.0 * np.log(10.0) / rt60) * LATE_S) * power[:, :-lag]
    gain = np.sqrt(np.maximum(1.0 - late / np.maximum(power, 1e-12), 10.0 ** (FLOOR_DB / 10.0)))
    return stft.istft(spec * gain, k1=x.size).astype(np.float32)

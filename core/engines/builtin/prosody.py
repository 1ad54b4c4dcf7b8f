"""Loudness and pitch of the voice: the energy envelope that scales the jaw, a voice-activity gate
that sends the mouth to rest in silence, and a pitch curve for head motion."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.audio import SAMPLE_RATE
from core.engines.builtin.filters import closing, moving_max, moving_mean
from core.engines.builtin.room import reverberation_time
from core.phonetics.segments import SIL, PhoneSegment

HOP = 0.01
WINDOW = 0.025
N_FFT = 512
MEL_BANDS, MEL_LOW_HZ, MEL_HIGH_HZ = 20, 100.0, 6000.0
CLOSURE_DIP = 18.0
"""dB below the local formant peak from which a dip may be a closure."""
NOISE_RESIDUE = 0.01
"""The formant band's noise floor is subtracted before its dips are measured, down to this share of
the floor: a closure in steady noise then dips as deep as in a quiet room."""
SILENCE_DBFS = -55.0
"""A clip whose loud parts stay below this level is treated as silence."""
SPEECH_REFERENCE_DBFS = -18.0
"""Loud-hop level of conversational speech recorded at a sensible gain (about -23 LUFS)."""
LOUDNESS_DB_PER_UNIT = 40.0
LOUDNESS_GAIN_RANGE = (0.75, 1.3)
"""Jaw gain per dB away from the reference, and its limits (a whisper 20 dB down opens half as much
more narrowly; a gain mistake cannot shut or overopen the mouth)."""
SPOKEN_LEVEL = 0.7
"""Loudness (0..1) of phones animated without their sound (phonemes alone)."""
TAIL_DROP_DB = 12.0
TAIL_MIN_S = 0.15
RISE_DB = 0.5
"""A fall into silence that takes longer than TAIL_MIN_S is a room ringing on (reverberation):
from TAIL_DROP_DB below the peak it fell from, it is not voice. A rise of RISE_DB per 10 ms
(5-hop smoothed) ends a fall."""


@dataclass
class Prosody:
    """Per-hop (10 ms) analysis of a clip."""

    times: np.ndarray  # hop centres, seconds
    level: np.ndarray  # loudness 0..1 relative to the clip's speech level
    voice: np.ndarray  # voice activity 0..1
    f0: np.ndarray  # Hz, 0 where unvoiced
    dip: np.ndarray  # dB of the 0.8–3 kHz band below its peak within ±150 ms (≤ 0; deep at closures)
    room: np.ndarray  # dB of that peak above the band's noise floor (how deep a dip can go there)
    open: np.ndarray  # 0..1 voiced with the formant band near its peak (a vowel's nucleus)
    speech: np.ndarray  # 0..1 voiced and not in a closure-deep dip
    mel: np.ndarray  # (hops, MEL_BANDS) dB: the spectrum's shape, for telling closures apart
    speech_level: float = SILENCE_DBFS  # dBFS of the loud hops (95th percentile of 25 ms RMS)
    rt60: float = 0.0  # seconds the room rings on, from how fast the voice falls (0: no fall seen)

    def at(self, name: str, t: np.ndarray) -> np.ndarray:
        """Linearly interpolate one curve at times ``t``."""
        return np.interp(t, self.times, getattr(self, name))

    def openness(self, t: np.ndarray) -> np.ndarray:
        """0..1: how surely the mouth is open at ``t`` (voiced, formant band near its local peak)."""
        return self.at("open", t)

    def speaking(self, t: np.ndarray) -> np.ndarray:
        """0..1: voice on and the formant band not in a closure-deep dip (a consonant's closure,
        where the mouth may close)."""
        return self.at("speech", t)

    def loudness_gain(self) -> float:
        """Mouth amplitude for the clip's absolute level against a conversational speech reference:
        a shouted line opens wider than a whispered one (within the clip, motion follows the level)."""
        gain = 1.0 + (self.speech_level - SPEECH_REFERENCE_DBFS) / LOUDNESS_DB_PER_UNIT
        return float(np.clip(gain, *LOUDNESS_GAIN_RANGE))

    def spoken_over(self, phones: Sequence[PhoneSegment]) -> Prosody:
        """The analysis with the voice on over given ``phones`` other than silence too (they are the
        user's word where the sound fades); a silent clip's also at SPOKEN_LEVEL and the reference
        speech level (phonemes animated alone)."""
        on = np.zeros(self.times.size)
        for p in phones:
            if p.phone != SIL:
                on[(self.times >= p.start) & (self.times < p.end)] = 1.0
        voice = moving_mean(on, 5)
        if self.has_speech:
            return replace(self, voice=np.maximum(self.voice, voice))
        return replace(self, level=SPOKEN_LEVEL * voice, voice=voice, speech=voice, speech_level=SPEECH_REFERENCE_DBFS)

    @property
    def has_speech(self) -> bool:
        return bool(self.voice.max(initial=0.0) > 0.5)


def _frames(audio: np.ndarray, hop: int, win: int) -> np.ndarray:
    n = max(1, int(np.ceil(audio.size / hop)))
    padded = np.pad(audio, (win // 2, win + n * hop - audio.size))
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    return padded[idx]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def analyse(audio: np.ndarray) -> Prosody:
    """Energy in dB per 10 ms hop, normalised to the clip's speech level; a voice gate; F0."""
    hop, win = round(HOP * SAMPLE_RATE), round(WINDOW * SAMPLE_RATE)
    frames = _frames(np.asarray(audio, dtype=np.float32), hop, win)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    db = moving_mean(20.0 * np.log10(rms + 1e-9), 3)
    times = np.arange(db.size) * HOP
    speech_level = float(np.percentile(db, 95))
    if speech_level < SILENCE_DBFS:
        zeros = np.zeros_like(db)
        return Prosody(
            times, zeros, zeros, zeros, zeros, zeros, zeros, zeros, np.zeros((db.size, MEL_BANDS)), speech_level
        )
    floor = max(float(np.percentile(db, 5)), speech_level - 50.0)
    # voice: well above the noise floor and within reach of the speech level
    threshold = max(floor + 0.35 * (speech_level - floor), speech_level - 30.0)
    voice = _smoothstep((db - threshold + 3.0) / 6.0)
    # bridge dips shorter than 150 ms (stop closures, weak consonants), then soften the edges
    voice = moving_mean(closing(voice, 15) * ~reverberant_tails(db, threshold), 5)
    level = moving_mean(np.clip((db - (speech_level - 24.0)) / 24.0, 0.0, 1.0), 5)
    power = _power(frames)
    dip, room = _band_dip(power)
    # 50 ms smoothing: the mouth cannot follow the band's frame-to-frame flicker
    vowel = moving_mean(_smoothstep((dip + 10.0) / 7.0) * voice, 5)
    speech = moving_mean((1.0 - _smoothstep((-dip - CLOSURE_DIP) / 8.0)) * voice, 5)
    pitch = _pitch(frames, voice)
    mel = 10.0 * np.log10(power @ _mel_bank().T + 1e-10)
    return Prosody(times, level, voice, pitch, dip, room, vowel, speech, mel, speech_level, reverberation_time(db, HOP))


def reverberant_tails(db: np.ndarray, threshold: float) -> np.ndarray:
    """True on the hops of slow falls into silence (below ``threshold``) more than TAIL_DROP_DB
    under the peak they fall from: speech stops within 0.1 s, a room rings on for 0.2-0.6 s."""
    smooth = moving_mean(db, 5)
    rises = np.flatnonzero(np.diff(smooth) > RISE_DB) + 1
    tail = np.zeros(db.size, bool)
    for a, b in zip(np.concatenate([[0], rises]), np.concatenate([rises, [db.size]]), strict=True):
        peak = a + int(np.argmax(smooth[a:b]))
        below = np.flatnonzero(smooth[peak:b] < threshold)
        if below.size == 0 or below[0] * HOP < TAIL_MIN_S:
            continue  # a dip inside speech, or a quick stop
        tail[peak:b] = smooth[peak:b] < smooth[peak] - TAIL_DROP_DB
    return tail


def _power(frames: np.ndarray) -> np.ndarray:
    """(hops, N_FFT // 2 + 1) power spectrum of Hann-windowed frames."""
    return np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1])[None, :], N_FFT, axis=1)) ** 2


@functools.cache
def _mel_bank() -> np.ndarray:
    """(MEL_BANDS, N_FFT // 2 + 1) triangular filters evenly spaced on the mel scale."""
    low, high = 2595.0 * np.log10(1.0 + np.array([MEL_LOW_HZ, MEL_HIGH_HZ]) / 700.0)
    mels = np.linspace(low, high, MEL_BANDS + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)


def _band_dip(power: np.ndarray, low_hz: float = 800.0, high_hz: float = 3000.0) -> tuple[np.ndarray, np.ndarray]:
    """How far (dB) the formant band falls below its local peak: vowels sit near 0, lip closures
    (stop silence, nasal murmur) and labiodental frication tens of dB below; and how far that peak
    is above the band's noise floor (its 5th percentile over the clip, subtracted from the band)."""
    lo, hi = int(low_hz * N_FFT / SAMPLE_RATE), int(high_hz * N_FFT / SAMPLE_RATE)
    energy = power[:, lo:hi].sum(axis=1)
    noise = float(np.percentile(energy, 5))
    band = 10.0 * np.log10(np.maximum(energy - noise, NOISE_RESIDUE * noise) + 1e-10)
    peak = moving_max(band, 31)
    return band - peak, np.maximum(peak - 10.0 * np.log10(noise + 1e-10), 0.0)


def _pitch(frames: np.ndarray, voice: np.ndarray, fmin: float = 70.0, fmax: float = 400.0) -> np.ndarray:
    """Autocorrelation F0 per frame (Hz), 0 where the frame is not clearly periodic."""
    n = frames.shape[1]
    x = frames - frames.mean(axis=1, keepdims=True)
    x = x * np.hanning(n)[None, :]
    spec = np.fft.rfft(x, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    ac /= ac[:, :1] + 1e-12
    lo, hi = int(SAMPLE_RATE / fmax), min(n - 1, int(SAMPLE_RATE / fmin))
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(ac.shape[0]), lag]
    f0 = SAMPLE_RATE / lag
    return np.where((peak > 0.45) & (voice > 0.5), f0, 0.0)

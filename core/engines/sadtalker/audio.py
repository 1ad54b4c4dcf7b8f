"""SadTalker's audio front end (Wav2Lip's): 16 kHz → normalised 80-band log-mel → 16-frame windows at 25 fps.

The numbers follow SadTalker's ``src/utils/audio.py`` with its ``hparams``: pre-emphasis 0.97, an STFT
with n_fft 800, a periodic Hann window of 800 and hop 200, centred with zero padding (librosa 0.9's
default), magnitude → Slaney mel filterbank (80 bands, 55..7600 Hz, Slaney area normalisation, as
``librosa.filters.mel``) → ``20·log10(max(1e-5, x)) − 20`` dB → symmetric normalisation to [−4, 4] with
clipping. ``src/generate_batch.py`` cuts the clip to whole 25 fps frames and gives frame ``i`` the 16 mel
frames starting at ``int(80·((i−2)/25))``, indices clamped to the spectrogram.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import get_window, lfilter

SAMPLE_RATE = 16_000
FPS = 25
N_FFT = 800
HOP = 200
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS = 4.0
MEL_STEP = 16  # mel frames per video frame window (Wav2Lip's syncnet_mel_step_size)
MEL_FPS = 80.0  # mel frames per second (16000 / 200)

# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Hz → Slaney mels."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mels → Hz."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = _F_SP * mel
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(
    sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = FMIN, fmax: float = FMAX
) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32 triangular filters, Slaney scale and area normalisation."""
    fft_hz = np.linspace(0.0, sr / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL_BASIS = mel_filterbank()
_WINDOW = get_window("hann", N_FFT, fftbins=True)


def frame_count(num_samples: int) -> int:
    """Whole 25 fps frames in a clip (``parse_audio_length``)."""
    return int(num_samples / (SAMPLE_RATE / FPS))


def crop_to_frames(wav: np.ndarray) -> np.ndarray:
    """The clip cut (or zero-padded) to exactly its whole 25 fps frames."""
    length = int(frame_count(len(wav)) * (SAMPLE_RATE / FPS))
    return np.pad(wav[:length], (0, max(0, length - len(wav))))


def stft_magnitude(wav: np.ndarray) -> np.ndarray:
    """(1 + n_fft/2, 1 + len // hop) magnitudes; centred frames, zero padding, periodic Hann window."""
    padded = np.pad(np.asarray(wav, dtype=np.float64), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return np.abs(np.fft.rfft(frames * _WINDOW, axis=1)).T


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """(80, frames) normalised log-mel spectrogram in [−4, 4] (Wav2Lip's ``melspectrogram``)."""
    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], np.asarray(wav, dtype=np.float64))
    mel = _MEL_BASIS @ stft_magnitude(emphasised)
    min_level = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    db = 20 * np.log10(np.maximum(min_level, mel)) - REF_LEVEL_DB
    scaled = (2 * MAX_ABS) * ((db - MIN_LEVEL_DB) / (-MIN_LEVEL_DB)) - MAX_ABS
    return np.clip(scaled, -MAX_ABS, MAX_ABS)


def window_starts(num_frames: int) -> np.ndarray:
    """First mel frame of each 25 fps frame's window: ``int(80·((i−2)/25))`` (truncation toward zero)."""
    i = np.arange(num_frames, dtype=np.float64)
    return np.trunc(MEL_FPS * ((i - 2) / float(FPS))).astype(np.int64)


def mel_windows(wav: np.ndarray) -> np.ndarray:
    """(T, 80, 16) float32: the mel window of each whole 25 fps frame of 16 kHz mono ``wav``."""
    wav = crop_to_frames(np.asarray(wav, dtype=np.float32))
    num_frames = frame_count(len(wav))
    if num_frames == 0:
        return np.zeros((0, N_MELS, MEL_STEP), dtype=np.float32)
    spec = melspectrogram(wav).T  # (mel frames, 80)
    index = window_starts(num_frames)[:, None] + np.arange(MEL_STEP)[None, :]
    index = np.clip(index, 0, spec.shape[0] - 1)
    return np.ascontiguousarray(spec[index].transpose(0, 2, 1), dtype=np.float32)

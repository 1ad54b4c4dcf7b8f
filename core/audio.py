"""Audio loading: any file or bytes → 16 kHz mono float32.

The header (soundfile's ``info``) is checked before anything is decoded: a tiny file that declares a
1 Hz rate, an hour of silence or a thousand channels is refused without allocating what it declares.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core.errors import InputError, UnsupportedMediaError

SAMPLE_RATE = 16_000
MIN_RATE, MAX_RATE = 4_000, 384_000
"""Sample rates accepted from a file's header; speech below 4 kHz is unintelligible anyway."""
MAX_CHANNELS = 32
MAX_SECONDS = 3600.0
"""The longest clip read when the caller sets no limit (the server passes its own)."""
MAX_SAMPLES = 2**26
"""Most samples (frames × channels) decoded from one file: 256 MB as float32."""


def to_mono_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mix down to mono and resample to 16 kHz (polyphase)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly  # imported here: scipy.signal takes ~1 s to import

        g = np.gcd(int(rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def decode_audio(
    data: bytes, name: str = "audio", max_seconds: float = MAX_SECONDS, too_long_hint: str = "split the clip"
) -> np.ndarray:
    """Decode audio bytes (WAV/FLAC/OGG via soundfile; MP3/M4A via ffmpeg when present).

    Clips longer than ``max_seconds`` are refused (``too_long_hint`` says what to do) before decoding.
    """
    if not data:
        raise InputError(f"{name}: the file is empty")
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        samples, rate = _decode_with_ffmpeg(data, name, max_seconds)
    else:
        frames = _check_header(info, name, max_seconds, too_long_hint)
        try:
            samples, rate = sf.read(io.BytesIO(data), frames=frames, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise UnsupportedMediaError(f"{name}: the audio cannot be decoded ({exc})") from None
    if samples.size == 0:
        raise InputError(f"{name}: the audio holds no samples")
    if len(samples) / rate > max_seconds:
        raise InputError(f"{name} is longer than the limit of {max_seconds:g} s ({too_long_hint})")
    if not np.isfinite(samples).all():
        raise InputError(f"{name}: the audio contains NaN or infinite samples")
    return to_mono_16k(samples, rate)


def _check_header(info: Any, name: str, max_seconds: float, too_long_hint: str) -> int:
    """The frames to decode, once the declared rate, channels and length are within bounds."""
    rate, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(
            f"{name}: its header declares a sample rate of {rate} Hz; "
            f"only {MIN_RATE // 1000}-{MAX_RATE // 1000} kHz audio is read (re-export the clip at 16-48 kHz)"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"{name}: its header declares {channels} channels; export it as mono or stereo")
    _check_duration(frames / rate, name, max_seconds, too_long_hint)
    if frames * channels > MAX_SAMPLES:
        raise InputError(
            f"{name}: {frames / rate:.1f} s at {rate} Hz in {channels} channels is too many samples "
            f"({frames * channels:,}; at most {MAX_SAMPLES:,}); export it as mono at 16-48 kHz"
        )
    # a header may undercount (streaming writers); never read past the limit whatever it says
    return min(frames if frames > 0 else MAX_SAMPLES, int(max_seconds * rate) + 1, MAX_SAMPLES // channels)


def _check_duration(seconds: float, name: str, max_seconds: float, too_long_hint: str) -> None:
    if seconds > max_seconds:
        raise InputError(f"{name} is {seconds:.1f} s long; the limit is {max_seconds:g} s ({too_long_hint})")


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file as 16 kHz mono float32."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file not found: {path}")
    return decode_audio(path.read_bytes(), path.name)


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def _decode_with_ffmpeg(data: bytes, name: str, max_seconds: float) -> tuple[np.ndarray, int]:
    """Decode with ffmpeg, stopping just past ``max_seconds`` so that a long clip is measured, not kept."""
    exe = _ffmpeg_exe()
    if exe is None:
        raise UnsupportedMediaError(
            f"{name}: not a WAV, FLAC or OGG file, and ffmpeg is not available to decode other formats"
        )
    limit = ["-t", f"{max_seconds + 1:g}"]
    output = ["-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"]
    proc = subprocess.run(
        [exe, "-v", "error", "-i", "pipe:0", *limit, *output],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f" ({detail[-1][:120]})" if detail else ""
        raise UnsupportedMediaError(f"{name}: not a readable audio file; use WAV, FLAC, OGG, MP3 or M4A{reason}")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy(), SAMPLE_RATE


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM WAV."""
    sf.write(str(path), np.asarray(samples, dtype=np.float32), rate, subtype="PCM_16")

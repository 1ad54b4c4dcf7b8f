"""Audio loading: any file or bytes → 16 kHz mono float32."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import InputError, UnsupportedMediaError

SAMPLE_RATE = 16_000


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


def decode_audio(data: bytes, name: str = "audio") -> np.ndarray:
    """Decode audio bytes (WAV/FLAC/OGG via soundfile; MP3/M4A via ffmpeg when present)."""
    if not data:
        raise InputError(f"{name}: the file is empty")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        samples, rate = _decode_with_ffmpeg(data, name)
    if samples.size == 0:
        raise InputError(f"{name}: the audio holds no samples")
    if not np.isfinite(samples).all():
        raise InputError(f"{name}: the audio contains NaN or infinite samples")
    return to_mono_16k(samples, rate)


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


def _decode_with_ffmpeg(data: bytes, name: str) -> tuple[np.ndarray, int]:
    exe = _ffmpeg_exe()
    if exe is None:
        raise UnsupportedMediaError(
            f"{name}: not a WAV, FLAC or OGG file, and ffmpeg is not available to decode other formats"
        )
    proc = subprocess.run(
        [exe, "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"],
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

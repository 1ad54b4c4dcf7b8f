"""H.264 mp4 with the speech muxed in as AAC (PyAV), written as the frames arrive.

Audio is interleaved with the video batch by batch and cut at the video's end (like ffmpeg ``-shortest``
in StyleTalk's demo); audio shorter than the video simply ends early.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from core.audio import SAMPLE_RATE

CRF = "18"


class Mp4Writer:
    """``with Mp4Writer(path, fps, size, audio) as w: w.write(frames)`` — frames (N, H, W, 3) uint8 RGB."""

    def __init__(self, path: str | Path, fps: float, size: int, audio: np.ndarray | None) -> None:
        self.fps = float(fps)
        self.frames = 0
        self._audio = None if audio is None else np.ascontiguousarray(audio, dtype=np.float32)
        self._audio_done = 0
        self._container = av.open(str(path), mode="w", format="mp4")
        self._video = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        self._video.width = size
        self._video.height = size
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": CRF, "preset": "medium"}
        self._sound = None
        if self._audio is not None and len(self._audio):
            self._sound = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")

    def write(self, frames: np.ndarray) -> None:
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self.frames
            self._container.mux(self._video.encode(frame))
            self.frames += 1
        self._write_audio_until(self.frames / self.fps)

    def _write_audio_until(self, seconds: float) -> None:
        if self._sound is None or self._audio is None:
            return
        end = min(len(self._audio), round(seconds * SAMPLE_RATE))
        if end <= self._audio_done:
            return
        frame = av.AudioFrame.from_ndarray(self._audio[None, self._audio_done : end], format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._audio_done
        self._container.mux(self._sound.encode(frame))
        self._audio_done = end

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        self._container.mux(self._video.encode(None))
        if self._sound is not None:
            self._container.mux(self._sound.encode(None))
        self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._container.close()

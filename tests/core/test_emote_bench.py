"""`mouthpiece bench emote` figures on the full-size network (random weights)."""

from __future__ import annotations

import pytest

from core.bench.emote import measure
from core.bench.figures import speech_like


def test_speech_like_signal() -> None:
    audio = speech_like(1.5)
    assert audio.shape == (24000,) and audio.dtype.name == "float32"
    assert 0.05 < float(abs(audio).max()) <= 0.4


@pytest.mark.slow
def test_full_size_benchmark_reports_its_figures() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    result = measure(seconds=2.0, device="cpu", threads=1)
    assert result["frames"] == 50 and result["clip_seconds"] == 2.0
    assert result["wall_seconds"] > 0 and result["real_time_factor"] == pytest.approx(
        result["wall_seconds"] / 2, rel=0.01
    )
    assert result["peak_rss_mib"] > 300  # 95 M float32 parameters alone are 365 MiB

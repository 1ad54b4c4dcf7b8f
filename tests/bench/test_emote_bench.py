"""`mouthpiece bench emote` figures on the full-size network (random weights)."""

from __future__ import annotations

import pytest

from bench.emote import measure
from core.testing.signals import speech_like


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
    assert result["wall_seconds"] > 0 and result["real_time_factor"] > 0
    assert result["peak_rss_mib"] > 300  # 95 M float32 parameters alone are 365 MiB
    assert result["single_pass_seconds"] > 0 and result["estimated_pass_mib"] > 0
    assert "seam_max_error" not in result  # 50 frames fit one upstream table: no windows to compare


@pytest.mark.slow
def test_benchmark_reports_the_seam_error_of_windows() -> None:
    result = measure(seconds=50.0, device="cpu", threads=2, seams=True)
    assert result["frames"] == 1250 and result["windows"] == 2
    assert 0 < result["seam_mean_error"] <= result["seam_max_error"] <= result["clip_max_error"]
    assert result["output_max_abs"] > 0

"""SadTalker's mel front end: Slaney filterbank, STFT, normalisation, 25 fps windows with clamped edges.

``data/sadtalker_official_mel.npz`` holds a test clip and what SadTalker's own ``src/utils/audio.py``
(librosa 0.9.2, numpy 1.23, scipy 1.11) and ``generate_batch.get_data``'s window loop made of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from core.engines.sadtalker import audio as A

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def official() -> dict[str, np.ndarray]:
    return dict(np.load(DATA / "sadtalker_official_mel.npz"))


def test_sadtalker_slaney_mel_scale_known_values():
    assert A.hz_to_mel(1000.0) == pytest.approx(15.0)  # the linear/log break of Slaney's scale
    assert A.hz_to_mel(55.0) == pytest.approx(55 * 3 / 200)
    assert A.hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0)  # 6.4x above 1 kHz is 27 steps
    hz = np.array([0.0, 55.0, 700.0, 1000.0, 2500.0, 7600.0])
    np.testing.assert_allclose(A.mel_to_hz(A.hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)


def test_sadtalker_mel_filterbank_matches_an_independent_slaney_implementation():
    ours = A.mel_filterbank()
    theirs = mel_filter_bank(
        num_frequency_bins=401,
        num_mel_filters=80,
        min_frequency=55.0,
        max_frequency=7600.0,
        sampling_rate=16000,
        norm="slaney",
        mel_scale="slaney",
    ).T
    assert ours.shape == (80, 401) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-8)
    fft_hz = np.linspace(0, 8000, 401)
    assert not ours[:, fft_hz < 55].any() and not ours[:, fft_hz > 7600].any()
    peaks = fft_hz[ours.argmax(axis=1)]
    assert np.all(np.diff(peaks) >= 0)  # bands rise with frequency


def test_sadtalker_stft_matches_centred_zero_padded_hann_stft():
    wav = np.random.default_rng(0).standard_normal(5000)
    theirs = spectrogram(
        wav, window_function(800, "hann"), frame_length=800, hop_length=200, power=1.0, pad_mode="constant"
    )
    ours = A.stft_magnitude(wav)
    assert ours.shape == (401, 1 + 5000 // 200)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_sadtalker_melspectrogram_reproduces_the_official_front_end(official):
    mel = A.melspectrogram(A.crop_to_frames(official["wav"]))
    assert mel.shape == official["mel"].shape == (80, 87)
    np.testing.assert_allclose(mel, official["mel"], atol=1e-5)
    windows = A.mel_windows(official["wav"])
    assert windows.shape == official["windows"].shape == (27, 80, 16) and windows.dtype == np.float32
    np.testing.assert_allclose(windows, official["windows"], atol=1e-5)


def test_sadtalker_window_starts_follow_generate_batch_indexing():
    expected = [int(80.0 * ((i - 2) / float(25))) for i in range(3000)]
    assert A.window_starts(3000).tolist() == expected
    assert expected[:4] == [-6, -3, 0, 3]  # negative starts truncate toward zero, then clamp to 0


def test_sadtalker_mel_windows_clamp_at_both_edges():
    wav = np.random.default_rng(1).standard_normal(16000 + 300).astype(np.float32) * 0.1
    spec = A.melspectrogram(A.crop_to_frames(wav))
    windows = A.mel_windows(wav)
    assert windows.shape == (25, 80, 16)  # whole 25 fps frames only: the 300 extra samples are cut
    np.testing.assert_allclose(windows[0][:, :6], np.repeat(spec[:, :1], 6, axis=1), atol=1e-6)
    np.testing.assert_allclose(windows[0][:, 6:], spec[:, :10], atol=1e-6)
    last_start = A.window_starts(25)[-1]
    tail = spec.shape[1] - last_start
    assert 0 < tail < 16
    np.testing.assert_allclose(windows[-1][:, tail:], np.repeat(spec[:, -1:], 16 - tail, axis=1), atol=1e-6)


def test_sadtalker_mel_range_silence_and_tone():
    assert np.all(A.mel_windows(np.zeros(3200, dtype=np.float32)) == -4.0)  # silence: the floor
    t = np.arange(16000) / 16000
    tone = A.melspectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert tone.min() >= -4.0 and tone.max() <= 4.0
    centres = A.mel_to_hz(np.linspace(A.hz_to_mel(55.0), A.hz_to_mel(7600.0), 82))[1:-1]
    loudest = tone[:, 10:-10].mean(axis=1).argmax()
    assert abs(centres[loudest] - 1000) < 80  # the band around 1 kHz lights up


def test_sadtalker_frame_count_and_cropping():
    assert A.frame_count(16000) == 25 and A.frame_count(639) == 0 and A.frame_count(1281) == 2
    assert len(A.crop_to_frames(np.ones(1300, dtype=np.float32))) == 1280
    assert A.mel_windows(np.ones(600, dtype=np.float32)).shape == (0, 80, 16)

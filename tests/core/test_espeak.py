"""core.testing.espeak: speech from libespeak-ng with ARPAbet phone timings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.audio import SAMPLE_RATE
from core.errors import InputError, MouthpieceError
from core.testing import espeak


@pytest.fixture(scope="module")
def bob() -> tuple[np.ndarray, list]:
    return espeak.synthesize("Bob ate a pie.")


def test_audio_is_16k_float32_speech(bob):
    audio, segments = bob
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.6 < len(audio) / SAMPLE_RATE < 1.6
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    assert segments[-1].end == pytest.approx(len(audio) / SAMPLE_RATE, abs=2e-3)


def test_phones_and_tiling(bob):
    _, segments = bob
    assert [s.phone for s in segments if s.phone != "SIL"] == ["B", "AA", "B", "EY", "T", "AH", "P", "AY"]
    assert segments[0].start == 0.0
    for a, b in itertools.pairwise(segments):
        assert a.end == pytest.approx(b.start) and a.end > a.start


def test_unvoiced_stop_starts_at_its_closure(bob):
    audio, segments = bob
    p = next(s for s in segments if s.phone == "P")
    # espeak reports P after its closure; the closure (near-silence) now belongs to P.
    closure = audio[int(p.start * SAMPLE_RATE) : int((p.start + 0.03) * SAMPLE_RATE)]
    assert np.sqrt(np.mean(closure**2)) < 0.01 * np.abs(audio).max()
    previous = segments[segments.index(p) - 1]
    vowel = audio[int(previous.start * SAMPLE_RATE) : int(previous.end * SAMPLE_RATE)]
    assert np.sqrt(np.mean(vowel**2)) > 0.05 * np.abs(audio).max()


def test_rate_changes_duration():
    slow, _ = espeak.synthesize("a quiet morning", rate=100)
    fast, _ = espeak.synthesize("a quiet morning", rate=300)
    assert len(slow) > 1.8 * len(fast)


@pytest.mark.parametrize(
    ("ipa", "arpabet"),
    [
        ("ɑːɹ", ["AA", "R"]),
        ("aɪɚ", ["AY", "ER"]),
        ("tʃ", ["CH"]),
        ("dʒ", ["JH"]),
        ("ˈeɪ", ["EY"]),
        ("n̩", ["AH", "N"]),
        ("ɾ", ["T"]),
        ("θ", ["TH"]),
        ("", []),
    ],
)
def test_ipa_to_arpabet(ipa, arpabet):
    assert espeak.ipa_to_arpabet(ipa) == arpabet


def test_every_phone_of_a_long_text_is_known():
    text = (
        "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
        "Thoughtful judges measure the usual pleasure of treasure; ahoy, the cowboy's toy is noisy."
    )
    _, segments = espeak.synthesize(text)
    phones = {s.phone for s in segments}
    assert {"TH", "JH", "ZH", "OY", "AW", "R", "ER"} <= phones
    assert len([s for s in segments if s.phone != "SIL"]) > 80


def test_errors():
    with pytest.raises(InputError, match="empty"):
        espeak.synthesize("   ")
    with pytest.raises(InputError, match="no voice"):
        espeak.synthesize("hello", voice="xx-nonexistent")
    with pytest.raises(MouthpieceError, match="apt-get install espeak-ng"):
        espeak._Espeak(library="libespeak-ng-absent.so.9")

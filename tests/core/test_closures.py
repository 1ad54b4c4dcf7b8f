"""The bilabial-closure classifier of the built-in engine (audio only)."""

from __future__ import annotations

import numpy as np
import pytest

from core.engines.builtin import closures as cl
from core.engines.builtin.prosody import MEL_BANDS, analyse
from core.phonetics import PhoneSegment
from core.testing.espeak import synthesize

TOLERANCE_S = 0.08
MIXED = "My mom made maple muffins on Monday, but Ted could not take the dog to Kate's garden."


@pytest.fixture(scope="module")
def mixed():
    """espeak-ng speech with bilabial and other closures, its phones, and its prosody."""
    audio, phones = synthesize(MIXED)
    return audio, phones, analyse(audio)


def test_the_shipped_weights_fit_the_features():
    model = cl.classifier()
    assert model.weights.shape == model.mean.shape == model.scale.shape == (cl.FEATURES,)
    assert np.all(model.scale > 0) and np.isfinite(model.bias)


def test_the_mel_spectrum_has_a_row_per_hop(mixed):
    _, _, prosody = mixed
    assert prosody.mel.shape == (prosody.times.size, MEL_BANDS) and np.isfinite(prosody.mel).all()
    silent = analyse(np.zeros(16000, np.float32))
    assert silent.mel.shape == (silent.times.size, MEL_BANDS)


def test_every_bilabial_closure_is_a_candidate_and_scores_above_the_others(mixed):
    from core.engines.builtin.engine import WINDOW_CENTRE, second_opinions
    from core.phonetics import recognize_phones

    audio, phones, prosody = mixed
    found = cl.find_closures(prosody)
    # The opening "My" starts closed from silence: there is no dip to find. A D→M or pause→B closure is
    # one dip whose deepest point may lie in the phone before, hence the tolerance.
    bilabials = [p for p in phones if p.phone in ("P", "B", "M") and p.start > 0.05]
    near = [any(p.start - TOLERANCE_S <= c.time <= p.end + TOLERANCE_S for c in found) for p in bilabials]
    assert len(bilabials) >= 8 and sum(near) >= len(bilabials) - 1, near
    assert all(c.start <= c.deepest <= c.end for c in found)

    word = recognize_phones(audio)
    _, loop = second_opinions(audio, word, prosody.rt60)
    x = cl.features(prosody, found, word, loop, WINDOW_CENTRE)
    assert x.shape == (len(found), cl.FEATURES) and np.isfinite(x).all()
    p = cl.classifier().probability(x)
    is_bilabial = np.array(
        [any(b.start - TOLERANCE_S <= c.time <= b.end + TOLERANCE_S for b in bilabials) for c in found]
    )
    assert is_bilabial.any() and (~is_bilabial).any()
    assert p[is_bilabial].mean() > p[~is_bilabial].mean() + 0.2, (p[is_bilabial], p[~is_bilabial])


def _segments(*spec: tuple[str, float, float]) -> list[PhoneSegment]:
    return [PhoneSegment(*s) for s in spec]


def test_a_likely_closure_lays_a_bilabial_over_its_deepest_point():
    phones = _segments(("SIL", 0.0, 0.2), ("AA", 0.2, 0.6), ("N", 0.6, 0.7), ("AA", 0.7, 1.0))
    lag = 0.05
    closure = cl.Closure(deepest=45, start=40, end=50)  # 0.45 s in the sound, 0.40 s in phone time
    out = cl.add_closures(phones, [closure], np.array([0.9]), lag, 0.5)
    assert [p.phone for p in out] == ["SIL", "AA", "B", "AA", "N", "AA"]
    b = out[2]
    assert b.start == pytest.approx(0.40 - cl.HALF_WIDTH_S) and b.end == pytest.approx(0.40 + cl.HALF_WIDTH_S)
    assert out[1].end == b.start and out[3].start == b.end  # still contiguous
    assert phones[1] == PhoneSegment("AA", 0.2, 0.6)  # the input is left as it was


def test_a_bilabial_laid_at_a_host_edge_stays_inside_the_host():
    phones = _segments(("AA", 0.0, 0.42), ("N", 0.42, 0.6))
    out = cl.add_closures(phones, [cl.Closure(43, 40, 46)], np.array([0.9]), 0.0, 0.5)
    assert out == _segments(
        ("AA", 0.0, 0.42), ("B", 0.42, 43 * cl.HOP + cl.HALF_WIDTH_S), ("N", 43 * cl.HOP + cl.HALF_WIDTH_S, 0.6)
    )


@pytest.mark.parametrize(
    "phones, probability",
    [
        (_segments(("AA", 0.0, 0.4), ("AA", 0.4, 1.0)), 0.49),  # not likely enough
        (_segments(("AA", 0.0, 0.43), ("M", 0.43, 0.5), ("AA", 0.5, 1.0)), 0.9),  # one is recognized there
        (_segments(("AA", 0.0, 0.3), ("SIL", 0.3, 0.6), ("AA", 0.6, 1.0)), 0.9),  # silence stays silence
    ],
)
def test_no_bilabial_is_added_where_one_is_not_wanted(phones, probability):
    assert cl.add_closures(phones, [cl.Closure(45, 40, 50)], np.array([probability]), 0.0, 0.5) == phones


def test_a_reverberant_room_takes_closures_more_readily_than_a_dry_one():
    from core.engines.builtin.room import REVERBERANT_RT60_S

    assert cl.threshold(REVERBERANT_RT60_S) == cl.REVERBERANT_THRESHOLD < cl.DRY_THRESHOLD == cl.threshold(0.2)

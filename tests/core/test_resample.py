"""Resampling: frame count, exactness at shared frame times, linear channels, slerp rotations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from core.errors import InputError
from core.resample import output_frame_count, resample
from core.track import Track

LIGHT = settings(max_examples=50, deadline=None)
RATES = [Fraction(24), Fraction(25), Fraction(30), Fraction(50), Fraction(60), Fraction(30000, 1001),
         Fraction(24000, 1001), Fraction(48), Fraction(15)]  # fmt: skip


def random_track(t: int, fps: float, seed: int) -> Track:
    rng = np.random.default_rng(seed)
    return Track(
        fps=fps,
        rig="flame",
        channels=["exp000", "exp001", "exp002"],
        values=rng.normal(size=(t, 3)),
        rotations={"jaw": rng.normal(size=(t, 3)) * 0.4, "head": rng.normal(size=(t, 3))},
        translation=rng.normal(size=(t, 3)),
        meta={"engine": "test"},
    )


@pytest.mark.parametrize(
    ("t", "fps_in", "fps_out", "expected"),
    [(0, 25, 30, 0), (1, 25, 30, 1), (25, 25, 30, 29), (30, 30, 25, 25), (2, 25, 30, 2), (26, 25, 50, 51),
     (100, 30, 30, 100), (101, 60, 24, 41)],
)  # fmt: skip
def test_output_frame_count(t: int, fps_in: float, fps_out: float, expected: int) -> None:
    assert output_frame_count(t, fps_in, fps_out) == expected
    assert resample(random_track(t, fps_in, 0), fps_out).num_frames == expected


@LIGHT
@given(st.integers(0, 60), st.sampled_from(RATES), st.sampled_from(RATES), st.integers(0, 2**16))
def test_coverage_and_exactness_at_shared_frame_times(t: int, fin: Fraction, fout: Fraction, seed: int) -> None:
    src = random_track(t, float(fin), seed)
    out = resample(src, float(fout))
    n = out.num_frames
    assert out.fps == float(fout)
    # Output frames k/fout cover 0..(t-1)/fin: all inside, and the next one would fall outside.
    if t == 0:
        assert n == 0
    else:
        assert (n - 1) / fout <= (t - 1) / fin < n / fout
    for k in range(n):
        i = k * fin / fout
        if i.denominator == 1:  # shared frame time: bit-for-bit copy
            i = int(i)
            np.testing.assert_array_equal(out.values[k], src.values[i])
            np.testing.assert_array_equal(out.translation[k], src.translation[i])
            for name in src.rotations:
                np.testing.assert_array_equal(out.rotations[name][k], src.rotations[name][i])
    # Linear interpolation stays within the range of the input.
    if t:
        assert (out.values >= src.values.min(axis=0) - 1e-6).all()
        assert (out.values <= src.values.max(axis=0) + 1e-6).all()


@LIGHT
@given(st.integers(0, 40), st.sampled_from([24.0, 25.0, 29.97, 60.0]), st.integers(0, 2**16))
def test_equal_rates_are_the_identity(t: int, fps: float, seed: int) -> None:
    src = random_track(t, fps, seed)
    out = resample(src, fps)
    np.testing.assert_array_equal(out.values, src.values)
    np.testing.assert_array_equal(out.translation, src.translation)
    for name in src.rotations:
        np.testing.assert_array_equal(out.rotations[name], src.rotations[name])
    assert out.meta == src.meta
    assert out.values is not src.values


@LIGHT
@given(st.integers(1, 40), st.integers(0, 2**16))
def test_up_then_down_returns_the_original(t: int, seed: int) -> None:
    src = random_track(t, 25, seed)
    back = resample(resample(src, 75), 25)
    np.testing.assert_array_equal(back.values, src.values)
    for name in src.rotations:
        np.testing.assert_array_equal(back.rotations[name], src.rotations[name])


@LIGHT
@given(st.sampled_from(RATES), st.sampled_from(RATES), st.floats(-2, 2), st.floats(-3, 3))
def test_channels_that_are_linear_in_time_stay_linear(fin: Fraction, fout: Fraction, a: float, b: float) -> None:
    times = np.arange(20) / float(fin)
    src = Track(fps=float(fin), rig="arkit", channels=["jawOpen"], values=(a + b * times)[:, None],
                translation=np.stack([times, -times, 2 * times], axis=1))  # fmt: skip
    out = resample(src, float(fout))
    out_times = np.arange(out.num_frames) / float(fout)
    np.testing.assert_allclose(out.values[:, 0], a + b * out_times, atol=1e-5)
    np.testing.assert_allclose(out.translation[:, 2], 2 * out_times, atol=1e-5)


@LIGHT
@given(
    st.sampled_from(RATES),
    st.sampled_from(RATES),
    st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1),
    st.floats(-2.5, 2.5),
)
def test_slerp_follows_a_constant_angular_velocity(fin: Fraction, fout: Fraction, axis: list, omega: float) -> None:
    """A rotation about a fixed axis at constant speed is reproduced exactly between the keys."""
    axis = np.asarray(axis) / np.linalg.norm(axis)
    t_in = np.arange(12) / float(fin)
    # Keys 1/fin apart move at most 2.5/15 rad, well inside the shortest path.
    src = Track(fps=float(fin), rig="flame", channels=[], values=np.zeros((12, 0)),
                rotations={"head": np.outer(omega * t_in, axis)})  # fmt: skip
    out = resample(src, float(fout))
    t_out = np.arange(out.num_frames) / float(fout)
    expected = Rotation.from_rotvec(np.outer(omega * t_out, axis))
    got = Rotation.from_rotvec(out.rotations["head"])
    assert np.degrees((expected.inv() * got).magnitude()).max() < 1e-3


def test_slerp_takes_the_shortest_path() -> None:
    """From +170° to -170° about z the short way passes 180°, not 0°."""
    z = np.array([0.0, 0.0, 1.0])
    src = Track(fps=10, rig="flame", channels=[], values=np.zeros((2, 0)),
                rotations={"head": np.stack([math.radians(170) * z, math.radians(-170) * z])})  # fmt: skip
    mid = Rotation.from_rotvec(resample(src, 20).rotations["head"][1])
    assert mid.magnitude() == pytest.approx(math.pi, abs=1e-5)
    np.testing.assert_allclose(np.abs(mid.as_rotvec() / mid.magnitude()), z, atol=1e-5)


def test_slerp_midpoint_of_a_quarter_turn() -> None:
    x = np.array([1.0, 0.0, 0.0])
    src = Track(fps=30, rig="flame", channels=[], values=np.zeros((2, 0)),
                rotations={"jaw": np.stack([np.zeros(3), math.pi / 2 * x])})  # fmt: skip
    out = resample(src, 60).rotations["jaw"]
    np.testing.assert_allclose(out[1], math.pi / 4 * x, atol=1e-6)


def test_single_and_empty_tracks() -> None:
    one = resample(random_track(1, 25, 1), 60)
    assert one.num_frames == 1
    np.testing.assert_array_equal(one.values, random_track(1, 25, 1).values)
    empty = resample(random_track(0, 25, 1), 60)
    assert empty.num_frames == 0
    assert empty.values.shape == (0, 3)
    assert empty.rotations["jaw"].shape == (0, 3)
    assert empty.translation.shape == (0, 3)


def test_meta_records_the_original_rate() -> None:
    out = resample(random_track(10, 25, 2), 30)
    assert out.meta == {"engine": "test", "resampled_from_fps": 25.0}
    assert out.rig == "flame" and out.channels == ["exp000", "exp001", "exp002"]


@pytest.mark.parametrize("fps", [0, -24, float("nan"), float("inf")])
def test_bad_target_rate(fps: float) -> None:
    with pytest.raises(InputError, match="positive number"):
        resample(random_track(3, 25, 0), fps)

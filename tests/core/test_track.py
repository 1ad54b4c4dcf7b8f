"""Track validation and its npz / JSON wire forms (DESIGN §3)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.track import FORMAT, ROTATION_NAMES, Track

LIGHT = settings(max_examples=50, deadline=None)

names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
finite32 = st.floats(-1e6, 1e6, allow_nan=False, width=32)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@st.composite
def tracks(draw: st.DrawFn) -> Track:
    t = draw(st.integers(0, 12))
    channels = draw(st.lists(names, max_size=6, unique=True))

    def rows(width: int) -> np.ndarray:
        flat = draw(st.lists(finite32, min_size=t * width, max_size=t * width))
        return np.asarray(flat, dtype=np.float32).reshape(t, width)

    rotation_names = draw(st.lists(st.sampled_from(ROTATION_NAMES), unique=True))
    return Track(
        fps=draw(st.floats(1.0, 240.0)),
        rig=draw(names),
        channels=channels,
        values=rows(len(channels)),
        rotations={name: rows(3) for name in rotation_names},
        translation=rows(3) if draw(st.booleans()) else None,
        meta=draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    )


def assert_same(a: Track, b: Track) -> None:
    assert a.fps == b.fps
    assert a.rig == b.rig
    assert a.channels == b.channels
    assert a.values.dtype == b.values.dtype == np.float32
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.shape == b.values.shape
    assert a.rotations.keys() == b.rotations.keys()
    for name in a.rotations:
        np.testing.assert_array_equal(a.rotations[name], b.rotations[name])
        assert b.rotations[name].shape == (a.num_frames, 3)
    assert (a.translation is None) == (b.translation is None)
    if a.translation is not None:
        np.testing.assert_array_equal(a.translation, b.translation)
    assert a.meta == b.meta


@LIGHT
@given(tracks())
def test_npz_round_trip(track: Track) -> None:
    assert_same(track, Track.from_npz(track.to_npz_bytes()))


@LIGHT
@given(tracks())
def test_json_round_trip(track: Track) -> None:
    assert_same(track, Track.from_json(track.to_json()))


def sample_track(t: int = 4) -> Track:
    rng = np.random.default_rng(0)
    return Track(
        fps=30,
        rig="arkit",
        channels=["jawOpen", "mouthClose"],
        values=rng.random((t, 2)),
        rotations={"jaw": rng.normal(size=(t, 3)) * 0.1, "head": np.zeros((t, 3))},
        translation=rng.normal(size=(t, 3)),
        meta={"engine": "builtin", "seed": 3, "warnings": []},
    )


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_and_load_files(tmp_path, suffix: str) -> None:
    track = sample_track()
    path = tmp_path / f"take{suffix}"
    track.save(path)
    assert_same(track, Track.load(path))


def test_npz_keys_match_the_wire_form_and_need_no_pickle() -> None:
    z = np.load(io.BytesIO(sample_track().to_npz_bytes()), allow_pickle=False)
    assert set(z.files) == {
        "format", "fps", "rig", "channels", "values", "rotation_jaw", "rotation_head", "translation", "meta",
    }  # fmt: skip
    assert str(z["format"]) == FORMAT == "mouthpiece.track/1"
    assert json.loads(str(z["meta"]))["seed"] == 3


def test_json_wire_form_fields() -> None:
    d = json.loads(sample_track(2).to_json())
    assert d["format"] == FORMAT
    assert d["channels"] == ["jawOpen", "mouthClose"]
    assert np.asarray(d["values"]).shape == (2, 2)
    assert set(d["rotations"]) == {"jaw", "head"}


def test_zero_frames_and_zero_channels_survive_both_forms() -> None:
    empty = Track(
        fps=25, rig="flame", channels=["exp000"], values=np.zeros((0, 1)), rotations={"jaw": np.zeros((0, 3))}
    )
    no_channels = Track(fps=25, rig="flame", channels=[], values=np.zeros((5, 0)), rotations={"jaw": np.ones((5, 3))})
    for track in (empty, no_channels):
        assert_same(track, Track.from_npz(track.to_npz_bytes()))
        assert_same(track, Track.from_json(track.to_json()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": np.array([[0.0, np.nan]] * 4)}, "NaN"),
        ({"values": np.array([[0.0, np.inf]] * 4)}, "NaN or infinity"),
        ({"values": np.zeros((4, 3))}, r"\(T, C=2\)"),
        ({"values": np.zeros(4)}, r"\(T, C=2\)"),
        ({"channels": ["a", "a"]}, "duplicate"),
        ({"rotations": {"jaw": np.zeros((3, 3))}}, r"rotation 'jaw' must be \(4,3\)"),
        ({"rotations": {"jaw": np.zeros((4, 4))}}, r"rotation 'jaw' must be \(4,3\)"),
        ({"rotations": {"jaw": np.full((4, 3), np.nan)}}, "rotation 'jaw' contains NaN"),
        ({"translation": np.zeros((4, 2))}, r"translation must be \(4,3\)"),
        ({"translation": np.full((4, 3), np.inf)}, "translation contains NaN"),
        ({"fps": 0}, "fps must be a positive number"),
        ({"fps": float("nan")}, "fps must be a positive number"),
        ({"rig": ""}, "no rig id"),
        ({"meta": {"when": object()}}, "not JSON-serialisable"),
    ],
)
def test_validation_errors(change: dict, message: str) -> None:
    fields = {
        "fps": 30, "rig": "arkit", "channels": ["a", "b"], "values": np.zeros((4, 2)),
        "rotations": {}, "translation": None, "meta": {},
    }  # fmt: skip
    fields.update(change)
    with pytest.raises(InputError, match=message):
        Track(**fields)


def test_unknown_format_major_is_refused_with_a_clear_message() -> None:
    d = sample_track().to_dict()
    d["format"] = "mouthpiece.track/2.0"
    with pytest.raises(InputError, match=r"version 2\.0 is not supported .*1\.x.*update Mouthpiece"):
        Track.from_dict(d)
    arrays = dict(np.load(io.BytesIO(sample_track().to_npz_bytes())))
    arrays["format"] = np.array("mouthpiece.track/2")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(InputError, match="version 2 is not supported"):
        Track.from_npz(buf.getvalue())


def test_minor_versions_of_major_1_are_read() -> None:
    d = sample_track().to_dict()
    d["format"] = "mouthpiece.track/1.3"
    assert Track.from_dict(d).channels == ["jawOpen", "mouthClose"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"format": "mouthpiece.track/1", "fps": 30}', r"missing \['channels', 'rig', 'values'\]"),
        (
            '{"format": "other/1", "fps": 30, "rig": "x", "channels": [], "values": []}',
            "not a Mouthpiece track",
        ),
        (
            '{"format": "mouthpiece.track/1", "fps": 30, "rig": "x", "channels": ["a"], "values": [[1], [1, 2]]}',
            "values must be a list of rows of numbers",
        ),
    ],
)
def test_bad_json_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Track.from_json(text)


def test_bad_npz_and_paths_are_refused(tmp_path) -> None:
    with pytest.raises(InputError, match=r"not a track \.npz"):
        Track.from_npz(b"not a zip file")
    buf = io.BytesIO()
    np.savez(buf, values=np.zeros((2, 1)))
    with pytest.raises(InputError, match="missing"):
        Track.from_npz(buf.getvalue())
    with pytest.raises(InputError, match="not found"):
        Track.load(tmp_path / "absent.npz")
    with pytest.raises(InputError, match=r"\.npz or \.json"):
        sample_track().save(tmp_path / "take.txt")


def test_channel_lookup() -> None:
    track = sample_track()
    np.testing.assert_array_equal(track.channel("mouthClose"), track.values[:, 1])
    with pytest.raises(InputError, match="no channel 'nope'"):
        track.channel("nope")
    assert track.duration == pytest.approx(4 / 30)

"""The add-on's own track/rig readers agree with core's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blender_addon.wire import WireError, read_rig, read_track

from .conftest import grid_rig, random_track


def test_track_npz_and_json_read_the_same():
    track = random_track()
    from_npz = read_track(track.to_npz_bytes())
    from_json = read_track(track.to_json().encode())
    for got in (from_npz, from_json):
        assert got.fps == 25.0 and got.rig == "arkit" and got.channels == track.channels
        np.testing.assert_allclose(got.values, track.values, atol=1e-6)
        assert set(got.rotations) == set(track.rotations)
        np.testing.assert_allclose(got.rotations["jaw"], track.rotations["jaw"], atol=1e-6)
        assert got.meta["emotion"] == "happy"


def test_track_reader_refuses_newer_major_and_garbage():
    d = json.loads(random_track().to_json())
    d["format"] = "mouthpiece.track/2.0"
    with pytest.raises(WireError, match="newer than this add-on"):
        read_track(json.dumps(d).encode())
    with pytest.raises(WireError, match="neither"):
        read_track(b"\x00\x01 not a track")


def test_rig_reader_matches_core_rig():
    rig = grid_rig(correctives=True)
    got = read_rig(rig.to_npz_bytes())
    assert got.name == "arkit" and got.channels == rig.channels and got.joint_names == rig.joint_names
    np.testing.assert_array_equal(got.faces, rig.faces)
    np.testing.assert_allclose(got.basis, rig.basis)
    assert got.pose_correctives.shape == (36, 12, 3)
    assert got.up_axis == "Z" and read_rig(grid_rig(up="Y").to_npz_bytes()).up_axis == "Y"

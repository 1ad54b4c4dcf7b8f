"""The add-on's own track/rig readers and resampling agree with core's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blender_addon.rotations import axis_angle_to_quat, quat_to_matrix, resample_linear, resample_slerp
from blender_addon.wire import WireError, read_rig, read_track
from core.lbs import axis_angle_to_matrix
from core.resample import resample

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


@pytest.mark.parametrize(("src", "dst"), [(25.0, 30.0), (60.0, 24.0), (30.0, 30.0), (24.0, 60.0)])
def test_resampling_matches_core(src, dst):
    track = random_track(frames=37, fps=src)
    expected = resample(track, dst)
    values = resample_linear(track.values, src, dst)
    assert values.shape == expected.values.shape
    np.testing.assert_allclose(values, expected.values, atol=1e-5)
    for name, rot in track.rotations.items():
        quats = resample_slerp(axis_angle_to_quat(rot), src, dst)
        np.testing.assert_allclose(quat_to_matrix(quats), axis_angle_to_matrix(expected.rotations[name]), atol=1e-5)


def test_slerp_is_exact_at_shared_frames_and_takes_the_short_way():
    rot = np.array([[0, 0, 0.1], [0, 0, 3.0], [0, 0, -3.0]])  # 3.0 → -3.0 rad is a short hop across π
    quats = resample_slerp(axis_angle_to_quat(rot), 1.0, 2.0)
    np.testing.assert_allclose(quat_to_matrix(quats[::2]), axis_angle_to_matrix(rot), atol=1e-9)
    mid = quat_to_matrix(quats[3])
    np.testing.assert_allclose(mid, axis_angle_to_matrix(np.array([0, 0, np.pi])), atol=1e-9)

"""Geometry tests of the built-in ARKit head (meshes/): topology, rig data and every shape key."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial import cKDTree

from core.arkit import ARKIT_CHANNELS
from core.rig import REQUIRED_LANDMARKS, FaceRig
from meshes import ASSET_PATH, load_head

GLOBAL_SHIFTS = {"jawLeft", "jawRight", "mouthLeft", "mouthRight"}  # move the whole jaw / mouth sideways
SIDE_BAND = 0.008  # a left key may touch the midline band, nothing beyond 8 mm on the right


@pytest.fixture(scope="module")
def rig() -> FaceRig:
    return load_head()


def pose(rig: FaceRig, **weights: float) -> np.ndarray:
    w = np.zeros(len(rig.channels), np.float32)
    for name, value in weights.items():
        w[rig.channel_index(name)] = value
    return rig.shape(w)


def dist(v: np.ndarray, rig: FaceRig, a: str, b: str) -> float:
    return float(np.linalg.norm(v[rig.landmark(a)] - v[rig.landmark(b)]))


def lip_gap(rig: FaceRig, **w: float) -> float:
    return dist(pose(rig, **w), rig, "lip_upper_mid", "lip_lower_mid")


def face_height(rig: FaceRig) -> float:
    v = rig.vertices
    eyes = 0.5 * (v[rig.landmark("eyelid_upper_L"), 2] + v[rig.landmark("eyelid_upper_R"), 2])
    return float(eyes - v[rig.landmark("chin"), 2])


def part(rig: FaceRig, name: str) -> np.ndarray:
    return rig.vertex_parts == rig.part_names.index(name)


def mirror_map(rig: FaceRig) -> np.ndarray:
    """Mirror partner of each vertex; the jaw weight separates the coincident upper/lower lip edges."""
    key = np.concatenate([rig.vertices, rig.skin_weights[:, 2:3]], axis=1).astype(np.float64)
    d, idx = cKDTree(key).query(key * np.array([-1.0, 1.0, 1.0, 1.0]))
    assert d.max() < 1e-5
    return idx


@pytest.mark.slow
def test_asset_matches_a_fresh_build(rig: FaceRig) -> None:
    from meshes.build import build_head

    fresh = build_head()
    assert ASSET_PATH.stat().st_size < 4_000_000
    assert fresh.channels == rig.channels and fresh.landmarks == rig.landmarks
    np.testing.assert_array_equal(fresh.faces, rig.faces)
    np.testing.assert_array_equal(fresh.vertex_parts, rig.vertex_parts)
    np.testing.assert_allclose(fresh.vertices, rig.vertices, atol=1e-6)
    np.testing.assert_allclose(fresh.basis, rig.basis, atol=1e-6)
    np.testing.assert_allclose(fresh.skin_weights, rig.skin_weights, atol=1e-6)


def test_loads_as_the_arkit_rig(rig: FaceRig) -> None:
    assert rig.name == "arkit"
    assert rig.channels == list(ARKIT_CHANNELS)
    assert 5_000 <= rig.num_vertices <= 20_000
    assert set(REQUIRED_LANDMARKS) <= set(rig.landmarks)
    assert rig.joint_names == ["head", "neck", "jaw", "eye_L", "eye_R"]
    assert rig.joint_parents.tolist() == [-1, 0, 1, 1, 1]
    assert {"skin", "eye_L", "eye_R", "teeth_upper", "teeth_lower", "tongue"} <= set(rig.part_names)
    quads = (rig.faces[:, 3] >= 0).mean()
    assert quads > 0.9
    size = rig.vertices.max(0) - rig.vertices.min(0)
    assert 0.23 < size[2] < 0.30 and 0.13 < size[0] < 0.18  # ~0.25 m head + neck, ~15 cm wide
    v = rig.vertices
    assert v[rig.landmark("mouth_corner_L"), 0] > 0.015 > -0.015 > v[rig.landmark("mouth_corner_R"), 0]
    assert v[rig.landmark("nose_tip"), 1] == v[:, 1].min()  # the nose tip is the front-most point
    assert v[rig.landmark("chin"), 2] < v[rig.landmark("lip_lower_mid"), 2] < v[rig.landmark("nose_tip"), 2]


def _edges(faces: np.ndarray) -> np.ndarray:
    out = []
    for f in faces:
        idx = [int(i) for i in f if i >= 0]
        out += list(zip(idx, idx[1:] + idx[:1], strict=True))
    return np.asarray(out)


def test_topology_is_oriented_and_manifold(rig: FaceRig) -> None:
    directed = _edges(rig.faces)
    assert len(np.unique(directed, axis=0)) == len(directed)  # consistent winding, no edge used twice one way
    undirected, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert counts.max() == 2
    boundary = np.unique(undirected[counts == 1])
    # the only open borders are the lid margins tucked behind the eyelids, right against the eyeballs
    eyes = [rig.joint_positions[rig.joint_names.index(n)] for n in ("eye_L", "eye_R")]
    near = np.min([np.linalg.norm(rig.vertices[boundary] - c, axis=1) for c in eyes], axis=0)
    assert near.max() < 0.0135
    for name in ("eye_L", "eye_R", "teeth_upper", "teeth_lower", "tongue"):
        sel = part(rig, name)
        closed = np.isin(rig.faces[:, 0], np.flatnonzero(sel))
        assert not np.isin(boundary, np.flatnonzero(sel)).any(), name
        assert _signed_volume(rig.vertices, rig.faces[closed]) > 0, name


def _signed_volume(v: np.ndarray, faces: np.ndarray) -> float:
    vol = 0.0
    for f in faces:
        idx = [int(i) for i in f if i >= 0]
        for a, b in itertools.pairwise(idx[1:]):
            vol += float(np.dot(v[idx[0]], np.cross(v[a], v[b])))
    return vol / 6


def test_skin_normals_point_outwards(rig: FaceRig) -> None:
    v, f = rig.vertices, rig.faces
    skin = np.isin(f[:, 0], np.flatnonzero(part(rig, "skin")))
    quads = f[skin]
    a, b, c = v[quads[:, 0]], v[quads[:, 1]], v[quads[:, 2]]
    n = np.cross(b - a, c - a)
    out = a - np.array([0.0, 0.02, 0.15])
    assert (np.einsum("ij,ij->i", n, out) > 0).mean() > 0.97
    assert _signed_volume(v, quads) > 0.0015  # litres of head, not an inside-out shell


def _triangles(faces: np.ndarray) -> np.ndarray:
    quads = faces[faces[:, 3] >= 0]
    return np.concatenate([faces[:, :3], quads[:, [0, 2, 3]]])


def _crossings(v: np.ndarray, tris: np.ndarray) -> int:
    """Edges of the triangles that pierce another triangle (not touching it at a shared point)."""
    _, pid = np.unique(v.round(9), axis=0, return_inverse=True)  # coincident lip vertices count as one
    pid = pid.ravel()
    edges = np.unique(np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1), axis=0)
    cent = v[tris].mean(1)
    radius = np.linalg.norm(v[tris] - cent[:, None], axis=2).max(1)
    a, b = v[edges[:, 0]], v[edges[:, 1]]
    mid, half = 0.5 * (a + b), 0.5 * np.linalg.norm(b - a, axis=1)
    ei_parts, ti_parts = [], []
    for lo, hi in ((0.0, 0.003), (0.003, 0.006), (0.006, np.inf)):  # search radius per triangle size
        group = np.flatnonzero((radius > lo) & (radius <= hi))
        if not len(group):
            continue
        near = cKDTree(cent[group]).query_ball_point(mid, half + radius[group].max())
        ei_parts.append(np.repeat(np.arange(len(edges)), [len(n) for n in near]))
        ti_parts.append(group[np.concatenate([np.asarray(n, dtype=int) for n in near])])
    ei, ti = np.concatenate(ei_parts), np.concatenate(ti_parts)
    shared = (pid[tris[ti]][:, :, None] == pid[edges[ei]][:, None, :]).any(axis=(1, 2))
    ei, ti = ei[~shared], ti[~shared]
    p0, e1, e2 = v[tris[ti, 0]], v[tris[ti, 1]] - v[tris[ti, 0]], v[tris[ti, 2]] - v[tris[ti, 0]]
    o, d = a[ei], b[ei] - a[ei]
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    inv = 1.0 / np.where(np.abs(det) > 1e-20, det, np.inf)
    s = o - p0
    q = np.cross(s, e1)
    u = inv * np.einsum("ij,ij->i", s, h)
    w = inv * np.einsum("ij,ij->i", d, q)
    t = inv * np.einsum("ij,ij->i", e2, q)
    eps = 1e-6
    return int(((u > eps) & (w > eps) & (u + w < 1 - eps) & (t > eps) & (t < 1 - eps)).sum())


def test_no_self_intersections_at_rest(rig: FaceRig) -> None:
    """The face, lids, lips, mouth bag, teeth, tongue and eyes (everything in front of the ears)."""
    v = rig.vertices.astype(np.float64)
    tris = _triangles(rig.faces)
    front = tris[(v[tris][:, :, 1] < -0.03).all(axis=1)]
    assert _crossings(v, front) == 0
    # the check finds a real crossing: push the tongue through the lower teeth
    moved = v.copy()
    moved[part(rig, "tongue")] += [0.0, -0.02, 0.0]
    assert _crossings(moved, front) > 0


@pytest.mark.parametrize(
    "keys",
    [
        ("mouthPressLeft", "mouthSmileRight", "browDownLeft", "browInnerUp", "eyeLookUpLeft", "mouthPucker"),
        ("jawLeft", "mouthShrugLower", "cheekPuff"),
    ],
)
def test_expressions_do_not_fold_the_face(rig: FaceRig, keys: tuple[str, ...]) -> None:
    v = pose(rig, **dict.fromkeys(keys, 1.0)).astype(np.float64)
    tris = _triangles(rig.faces)
    assert _crossings(v, tris[(v[tris][:, :, 1] < -0.03).all(axis=1)]) == 0


def test_lips_touch_at_rest_as_separate_vertices(rig: FaceRig) -> None:
    up, low = rig.landmark("lip_upper_mid"), rig.landmark("lip_lower_mid")
    assert up != low
    assert dist(rig.vertices, rig, "lip_upper_mid", "lip_lower_mid") < 1e-6
    assert rig.skin_weights[up, 2] < 0.05 and rig.skin_weights[low, 2] > 0.95


def test_jaw_open_opens_the_lips(rig: FaceRig) -> None:
    gap = lip_gap(rig, jawOpen=1.0)
    assert gap >= 0.15 * face_height(rig)
    assert lip_gap(rig, jawOpen=0.5) == pytest.approx(gap / 2, rel=0.1)
    teeth = part(rig, "teeth_lower")
    assert pose(rig, jawOpen=1.0)[teeth, 2].mean() < rig.vertices[teeth, 2].mean() - 0.015


def test_mouth_close_closes_the_open_jaw(rig: FaceRig) -> None:
    open_gap = lip_gap(rig, jawOpen=1.0)
    assert lip_gap(rig, jawOpen=1.0, mouthClose=1.0) < 0.02 * open_gap
    assert lip_gap(rig, jawOpen=0.6, mouthClose=0.6) < 0.02 * open_gap
    closed = ("mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRollLower", "mouthRollUpper",
              "mouthShrugLower", "mouthShrugUpper", "jawForward", "jawLeft", "jawRight", "eyeBlinkLeft")  # fmt: skip
    for key in closed:  # "closed" for the lip-sync benchmark: within 15% of the way to jawOpen = 1
        assert lip_gap(rig, **{key: 1.0}) < 0.15 * open_gap, key


def test_blinks_close_the_lids(rig: FaceRig) -> None:
    for side in ("L", "R"):
        pair = (f"eyelid_upper_{side}", f"eyelid_lower_{side}")
        key = "eyeBlinkLeft" if side == "L" else "eyeBlinkRight"
        open_gap = dist(rig.vertices, rig, *pair)
        assert open_gap > 0.006
        assert dist(pose(rig, **{key: 1.0}), rig, *pair) < 0.05 * open_gap
        assert dist(pose(rig, eyeWideLeft=1.0, eyeWideRight=1.0), rig, *pair) > 1.2 * open_gap


def test_left_keys_stay_left_and_mirror_their_twins(rig: FaceRig) -> None:
    mirror = mirror_map(rig)
    x = rig.vertices[:, 0]
    for c, name in enumerate(rig.channels):
        if not name.endswith("Left"):
            continue
        left = rig.basis[c]
        right = rig.basis[rig.channel_index(name[:-4] + "Right")]
        assert np.abs(left).max() > 0.002, name
        np.testing.assert_allclose(right, left[mirror] * [-1, 1, 1], atol=1e-6, err_msg=name)
        if name not in GLOBAL_SHIFTS:
            assert np.abs(left[x < -SIDE_BAND]).max() < 1e-6, name
            assert np.abs(right[x > SIDE_BAND]).max() < 1e-6, name


def test_symmetric_keys_are_symmetric(rig: FaceRig) -> None:
    mirror = mirror_map(rig)
    for c, name in enumerate(rig.channels):
        if not name.endswith(("Left", "Right")):
            np.testing.assert_allclose(rig.basis[c], rig.basis[c][mirror] * [-1, 1, 1], atol=1e-6, err_msg=name)


def test_no_key_moves_the_back_of_the_head(rig: FaceRig) -> None:
    back = rig.vertices[:, 1] > 0.03
    moved = np.abs(rig.basis[:, back]).max(axis=(1, 2))
    assert moved.max() < 1e-6, [rig.channels[i] for i in np.flatnonzero(moved >= 1e-6)]


def test_every_key_is_a_visible_localised_deformation(rig: FaceRig) -> None:
    for c, name in enumerate(rig.channels):
        norm = np.linalg.norm(rig.basis[c], axis=1)
        assert 0.002 < norm.max() < 0.05, name
        assert (norm > 1e-4).mean() < 0.25, name


def test_eye_keys_rotate_the_eyeballs_inside_the_lids(rig: FaceRig) -> None:
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        eye = part(rig, "eye_L" if side == "Left" else "eye_R")
        j = rig.joint_positions[rig.joint_names.index("eye_L" if side == "Left" else "eye_R")]
        assert (rig.skin_weights[eye, 3 if side == "Left" else 4] == 1.0).all()
        pupil = np.flatnonzero(eye)[np.argmin(rig.vertices[eye, 1])]
        radius = np.linalg.norm(rig.vertices[eye] - j, axis=1).max()
        skin_near = part(rig, "skin") & (np.linalg.norm(rig.vertices - j, axis=1) < 0.02)
        for look, axis, direction in (("Up", 2, 1), ("Down", 2, -1), ("Out", 0, sign), ("In", 0, -sign)):
            v = pose(rig, **{f"eyeLook{look}{side}": 1.0})
            assert (v[pupil, axis] - rig.vertices[pupil, axis]) * direction > 0.003, look + side
            np.testing.assert_allclose(np.linalg.norm(v[eye] - j, axis=1).max(), radius, rtol=1e-4)
            assert np.linalg.norm(v[skin_near] - j, axis=1).min() > radius, look + side


def test_interior_parts_sit_inside_the_head(rig: FaceRig) -> None:
    from meshes.build.sdf import head_sdf

    for name in ("teeth_upper", "teeth_lower", "tongue", "eye_L", "eye_R"):
        assert head_sdf(rig.vertices[part(rig, name)].astype(np.float64)).max() < 0, name


def test_skin_weights(rig: FaceRig) -> None:
    w = rig.skin_weights
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
    assert w.min() >= 0
    assert (w[part(rig, "teeth_lower"), 2] == 1).all() and (w[part(rig, "teeth_upper"), 2] == 0).all()
    top = rig.vertices[:, 2] > 0.2
    assert (w[top, 1] > 0.99).all()  # the skull follows the neck joint
    bottom = rig.vertices[:, 2] < 0.005
    assert (w[bottom, 0] > 0.99).all()  # the neck base stays with the root

"""Retargeting onto the built-in ARKit head, checked against rigs with a known answer.

The source rigs are the built-in head itself remeshed (another topology, vertex order, scale and
orientation) with an expression basis that is a known orthonormal mix of the ARKit shapes
(core/retarget/synthetic.py), so the ARKit weights that drove them are the answer.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.arkit import ARKIT_CHANNELS
from core.lbs import pose_rig
from core.retarget import SolveSettings, rig_pair, to_arkit
from core.retarget.accuracy import accuracy, face_height, gaps
from core.retarget.landmarks import IBUG_NAMES, ibug68
from core.retarget.register import self_correspondence
from core.retarget.synthetic import skin_channels, speech_like_weights, synthetic_source
from core.rig import FaceRig
from core.track import Track
from meshes import load_head

SKIN = [ARKIT_CHANNELS.index(c) for c in skin_channels()]


@pytest.fixture(scope="module")
def head() -> FaceRig:
    return load_head()


@pytest.fixture(scope="module", autouse=True)
def retarget_home(tmp_path_factory, head):
    """Keep the correspondence cache out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MOUTHPIECE_HOME", str(tmp_path_factory.mktemp("home")))
    yield
    mp.undo()


def test_the_head_carries_the_68_ibug_landmarks(head):
    lm = ibug68(head)
    v = head.vertices
    assert set(IBUG_NAMES) <= set(head.landmarks) and len(set(lm.tolist())) == 68
    assert lm[30] == head.landmark("nose_tip") and lm[62] == head.landmark("lip_upper_mid")
    # iBUG numbers the subject's side: the right eye (36-41) and right mouth corner (48) are at -X
    assert v[lm[36:42], 0].max() < 0 < v[lm[42:48], 0].min() and v[lm[48], 0] < 0 < v[lm[54], 0]
    for a, b in ((0, 16), (17, 26), (36, 45), (39, 42), (48, 54), (31, 35)):  # mirror pairs
        assert v[lm[a], 0] == pytest.approx(-v[lm[b], 0], abs=2e-3) and v[lm[a], 2] == pytest.approx(
            v[lm[b], 2], abs=2e-3
        )
    assert v[lm[8], 2] == v[lm[:17], 2].min()  # the chin is the lowest jaw-line point
    assert v[lm[19], 2] > v[lm[37], 2] > v[lm[41], 2] > v[lm[30], 2] > v[lm[51], 2] > v[lm[57], 2] > v[lm[8], 2]


@pytest.fixture(scope="module")
def synthetic(head):
    source = synthetic_source(head, seed=0)
    from core.retarget.synthetic import IBUG68_LANDMARKS

    marks = {n: int(i) for n, i in zip(IBUG_NAMES, source.landmarks, strict=True)}
    marks.update({n: int(source.landmarks[k]) for n, k in IBUG68_LANDMARKS.items()})
    rig = FaceRig("synthetic", source.vertices, source.faces, [f"mix{k:03d}" for k in range(100)], source.basis, marks)
    return source, rig, rig_pair(rig, head)


@pytest.mark.slow
def test_registration_finds_the_remeshed_head_on_the_built_in_one(synthetic, head):
    source, rig, pair = synthetic
    corr = pair.transfer.corr
    scale, rotation, shift = source.to_source
    assert corr.scale == pytest.approx(1 / scale, rel=0.01)
    assert np.abs(corr.rotation @ rotation - np.eye(3)).max() < 0.01
    truth = ((rig.vertices[corr.source_vertices] - shift) / scale) @ rotation
    found = np.einsum("nka,nk->na", head.vertices[corr.target_triangles], corr.bary)
    err = np.linalg.norm(found - truth, axis=1)
    assert np.median(err) < 2e-4 and np.percentile(err, 95) < 1.5e-3, (np.median(err), np.percentile(err, 95))
    # the face only: eyeballs, scalp and neck are left out
    eyes = source.eyes[corr.source_vertices] > 0
    assert not eyes.any()
    assert truth[:, 2].max() < 0.26 and truth[:, 1].max() < -0.0 + 0.03


def _check_recovery(head, out: Track, truth: np.ndarray) -> dict[str, float]:
    figures = accuracy(head, truth, out.values)
    assert figures["mean_abs_error"] <= 0.03, figures
    assert max(figures[f"{k}_gap_error"] for k in ("lips", "lid_L", "lid_R")) <= 0.05, figures
    assert figures["closures_kept"] == 1.0 and figures["openings_kept"] == 1.0, figures
    return figures


@pytest.mark.slow
def test_a_speech_like_take_comes_back_with_its_closures(synthetic, head):
    _, rig, pair = synthetic
    truth = speech_like_weights(500, seed=4)
    out = to_arkit(Track(25.0, "synthetic", rig.channels, truth @ pair_mixing(synthetic).T), pair)
    assert out.rig == "arkit" and out.channels == list(ARKIT_CHANNELS) and out.meta["retargeted_from"] == "synthetic"
    assert out.values.min() >= 0.0 and out.values.max() <= 1.0
    _check_recovery(head, out, truth)
    lips_truth = gaps(head, pose_rig(head, truth))["lips"]
    lips_out = gaps(head, pose_rig(head, out.values))["lips"]
    closure = truth[:, ARKIT_CHANNELS.index("mouthClose")] > 0
    assert closure.sum() > 10
    assert (lips_truth[closure] < 1e-3).all() and (lips_out[closure] < 1.5e-3).all()
    opened = lips_truth > 4e-3
    assert opened.sum() > 50 and (lips_out[opened] > 2.5e-3).all()


def pair_mixing(synthetic) -> np.ndarray:
    return synthetic[0].mixing


@pytest.mark.slow
def test_random_weights_come_back_without_smoothing(synthetic, head):
    _, rig, pair = synthetic
    rng = np.random.default_rng(7)
    truth = np.zeros((200, 52))
    truth[:, SKIN] = rng.uniform(0, 1, (200, len(SKIN))) * (rng.random((200, len(SKIN))) < 0.3)
    out = to_arkit(
        Track(25.0, "synthetic", rig.channels, truth @ pair_mixing(synthetic).T), pair, SolveSettings(smooth=0.0)
    )
    _check_recovery(head, out, truth)


def test_identity_solve_gives_the_weights_back(head):
    pair = rig_pair(head, head, self_correspondence(head))
    truth = speech_like_weights(300, seed=2)
    rng = np.random.default_rng(3)
    for name in ("eyeLookUpLeft", "eyeLookInRight", "eyeLookOutLeft", "tongueOut"):
        truth[:, ARKIT_CHANNELS.index(name)] = np.clip(np.sin(np.arange(300) / 9.0 + rng.uniform(0, 6)), 0, 1)
    out = to_arkit(Track(25.0, "arkit", head.channels, truth), pair, SolveSettings(smooth=0.0, quiet=0.0))
    assert np.abs(out.values - truth).max() <= 1e-3


@pytest.fixture(scope="module")
def flame(tmp_path_factory, head):
    """A FLAME-format file (Python-2 pickle, chumpy, 5,023 vertices) built from the head, imported."""
    from core.flame import load_flame_pkl
    from core.retarget.synthetic import flame_arrays
    from tests.synthetic_assets import write_flame_pkl

    arrays, mixing = flame_arrays(head)
    path = tmp_path_factory.mktemp("flame") / "generic_model.pkl"
    write_flame_pkl(path, arrays)
    rig = load_flame_pkl(path).to_rig()
    return rig, mixing, rig_pair(rig, head)


@pytest.mark.slow
def test_a_flame_format_take_comes_back_as_arkit(flame, head):
    rig, mixing, pair = flame
    assert rig.num_vertices == 5023 and rig.name == "flame"
    truth = speech_like_weights(400, seed=5)
    out = to_arkit(Track(25.0, "flame", rig.channels, truth @ mixing.T), pair)
    assert out.meta["retargeted_from"] == "flame"
    _check_recovery(head, out, truth)


@pytest.mark.slow
def test_the_flame_jaw_turn_opens_the_arkit_jaw_as_far(flame, head):
    rig, _, pair = flame
    angle = head.meta["jaw_open_angle"]
    turn = np.linspace(0.0, angle, 40)
    axis = pair.transfer.corr.rotation.T @ np.array([1.0, 0.0, 0.0])  # the head's jaw axis, in FLAME's frame
    take = Track(25.0, "flame", rig.channels, np.zeros((40, 100)), rotations={"jaw": turn[:, None] * axis})
    out = to_arkit(take, pair)
    jaw_open = out.channel("jawOpen")
    assert np.abs(jaw_open - turn / angle).max() < 0.05
    lips_src = gaps(rig, pose_rig(rig, take.values, take.rotations))["lips"] * pair.transfer.corr.scale
    lips_out = gaps(head, pose_rig(head, out.values))["lips"]
    assert np.abs(lips_src - lips_out).max() / face_height(head) < 0.05


@pytest.mark.slow
def test_arkit_to_flame_and_back(flame, head):
    from core.retarget import from_arkit

    rig, _, pair = flame
    truth = speech_like_weights(300, seed=6)
    as_flame = from_arkit(Track(25.0, "arkit", head.channels, truth), pair)
    assert as_flame.rig == "flame" and as_flame.channels == rig.channels and "jaw" in as_flame.rotations
    back = to_arkit(as_flame, pair)
    err = float(np.abs(back.values - truth)[:, SKIN].mean())
    print(f"arkit → flame → arkit mean abs error {err:.4f}")
    assert err <= 0.03


@pytest.mark.slow
def test_a_bfm_take_comes_back_as_arkit(tmp_path, head):
    from core.bfm import load_bfm_mat
    from core.retarget.synthetic import bfm_arrays
    from tests.synthetic_assets import write_bfm_mat

    arrays, mixing = bfm_arrays(head)
    write_bfm_mat(tmp_path / "BFM_model_front.mat", arrays)
    rig = load_bfm_mat(tmp_path / "BFM_model_front.mat")
    truth = speech_like_weights(300, seed=8)
    out = to_arkit(Track(30.0, "bfm", rig.channels, truth @ mixing.T), rig_pair(rig, head))
    _check_recovery(head, out, truth)


@pytest.mark.slow
def test_the_bench_prints_the_figures(capsys):
    import json

    from bench.retarget import main

    assert main(["--frames", "200", "--only", "bfm", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["frames"] == 200 and figures["bfm_registration_s"] > 0 and figures["bfm_take_s"] > 0
    assert figures["bfm_mean_abs_error"] <= 0.03 and figures["bfm_closures_kept"] == 1.0
    assert figures["identity_max_error"] <= 1e-3


def test_a_rig_with_the_same_mesh_and_another_basis_gets_its_own_projections(synthetic, head):
    _, rig, pair = synthetic
    other = FaceRig(rig.name, rig.vertices, rig.faces, rig.channels, -rig.basis, rig.landmarks)
    again = rig_pair(other, head)
    assert again is not pair and again.transfer.corr.stats.get("cached") is True
    np.testing.assert_allclose(again.linear, -pair.linear, atol=1e-9)

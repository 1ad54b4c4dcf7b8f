"""LBS: rotations, joint chains, pose correctives, regressed joints; numpy vs torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import lbs
from core.errors import InputError
from core.rig import FaceRig

PARENTS = np.array([-1, 0, 1, 1, 1])
REPO = Path(__file__).resolve().parents[2]


def random_setup(seed: int = 0, v: int = 30, c: int = 6, t: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    weights = rng.random((v, 5)) ** 2
    return {
        "vertices": rng.normal(scale=0.1, size=(v, 3)),
        "basis": rng.normal(scale=0.01, size=(c, v, 3)),
        "weights": rng.normal(size=(t, c)),
        "rotations": rng.normal(scale=0.3, size=(t, 5, 3)),
        "skin_weights": weights / weights.sum(1, keepdims=True),
        "joint_positions": rng.normal(scale=0.05, size=(5, 3)),
        "joint_regressor": rng.dirichlet(np.ones(v), size=5),
        "pose_correctives": rng.normal(scale=0.01, size=(36, v, 3)),
    }


def test_axis_angle_quarter_turn_and_identity() -> None:
    r = lbs.axis_angle_to_matrix(np.array([[0, 0, np.pi / 2], [0, 0, 0], [0.3, -1.2, 0.5]]))
    np.testing.assert_allclose(r[0] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(r[1], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(r[2] @ r[2].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r[2]) == pytest.approx(1.0)


def test_root_rotation_turns_mesh_about_root_joint() -> None:
    verts = np.array([[1.0, 0, 0], [0, 2.0, 0]])
    joints = np.array([[0.5, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    skin = np.zeros((2, 5))
    skin[:, 0] = 1
    rot = np.zeros((1, 5, 3))
    rot[0, 0] = [0, 0, np.pi / 2]
    out = lbs.lbs(verts, np.zeros((0, 2, 3)), np.zeros((1, 0)), rot, parents=PARENTS,
                  skin_weights=skin, joint_positions=joints)  # fmt: skip
    # about (0.5,0,0): (1,0,0) → (0.5,0.5,0); (0,2,0) → (-1.5,-0.5,0)
    np.testing.assert_allclose(out[0], [[0.5, 0.5, 0], [-1.5, -0.5, 0]], atol=1e-12)


def test_child_follows_parent_chain() -> None:
    verts = np.array([[0.0, -1.0, 0.0]])
    joints = np.array([[0, 0, 0], [0, 0, 0], [0, 0.5, 0], [0, 0, 0], [0, 0, 0]], dtype=float)
    skin = np.zeros((1, 5))
    skin[0, 2] = 1  # on the jaw
    rot = np.zeros((1, 5, 3))
    rot[0, 1] = [0, 0, np.pi]  # the neck half-turns about the origin; the jaw follows
    out = lbs.lbs(verts, np.zeros((0, 1, 3)), np.zeros((1, 0)), rot, parents=PARENTS,
                  skin_weights=skin, joint_positions=joints)  # fmt: skip
    np.testing.assert_allclose(out[0, 0], [0, 1, 0], atol=1e-12)


def test_pose_correctives_use_r_minus_i_of_non_root_joints() -> None:
    s = random_setup()
    rot = np.zeros((1, 5, 3))
    rot[0, 2] = [0.4, 0, 0]  # jaw only
    skin = np.zeros_like(s["skin_weights"])
    skin[:, 0] = 1  # mesh rides on the (unrotated) root, so only the correctives move it
    out = lbs.lbs(s["vertices"], s["basis"], np.zeros((1, 6)), rot, parents=PARENTS, skin_weights=skin,
                  joint_positions=s["joint_positions"], pose_correctives=s["pose_correctives"])  # fmt: skip
    feature = np.zeros((4, 3, 3))
    feature[1] = lbs.axis_angle_to_matrix(rot[0, 2]) - np.eye(3)
    expected = s["vertices"] + np.tensordot(feature.ravel(), s["pose_correctives"], axes=1)
    np.testing.assert_allclose(out[0], expected, atol=1e-12)


def test_regressed_joints_follow_the_shaped_mesh() -> None:
    s = random_setup()
    shaped = s["vertices"] + np.tensordot(s["weights"], s["basis"], axes=1)
    fixed = lbs.lbs(s["vertices"], s["basis"], s["weights"], s["rotations"], parents=PARENTS,
                    skin_weights=s["skin_weights"], joint_positions=s["joint_regressor"] @ shaped[0])  # fmt: skip
    regressed = lbs.lbs(s["vertices"], s["basis"], s["weights"], s["rotations"], parents=PARENTS,
                        skin_weights=s["skin_weights"], joint_regressor=s["joint_regressor"])  # fmt: skip
    np.testing.assert_allclose(regressed[0], fixed[0], atol=1e-12)
    assert np.abs(regressed[1:] - fixed[1:]).max() > 1e-6


def test_numpy_and_torch_agree() -> None:
    torch = pytest.importorskip("torch")
    from core import lbs_torch

    s = random_setup(seed=3, v=200, c=10, t=6)
    kwargs = dict(parents=PARENTS, skin_weights=s["skin_weights"], pose_correctives=s["pose_correctives"])
    for joints in ("joint_positions", "joint_regressor"):
        ref = lbs.lbs(s["vertices"], s["basis"], s["weights"], s["rotations"], **kwargs, **{joints: s[joints]})
        t = {k: torch.tensor(s[k], dtype=torch.float32) for k in s}
        out = lbs_torch.lbs(t["vertices"], t["basis"], t["weights"], t["rotations"], parents=PARENTS.tolist(),
                            skin_weights=t["skin_weights"], pose_correctives=t["pose_correctives"],
                            **{joints: t[joints]})  # fmt: skip
        assert out.shape == ref.shape
        assert np.abs(out.numpy() - ref).max() < 1e-5
        assert np.abs(ref - s["vertices"]).max() > 1e-2  # the pose really moved the mesh


def make_rig(s: dict) -> FaceRig:
    v = s["vertices"].shape[0]
    return FaceRig(
        name="test", vertices=s["vertices"], faces=np.array([[0, 1, 2]]), channels=[f"c{i}" for i in range(6)],
        basis=s["basis"], joint_names=["global", "neck", "jaw", "eye_L", "eye_R"], joint_parents=PARENTS,
        joint_positions=s["joint_positions"], skin_weights=s["skin_weights"],
        pose_correctives=s["pose_correctives"][:, :v],
    )  # fmt: skip


def test_pose_rig_maps_track_rotations() -> None:
    s = random_setup()
    rig = make_rig(s)
    head = np.tile([[0.0, 0.5, 0.0]], (4, 1))
    jaw = np.tile([[0.2, 0.0, 0.0]], (4, 1))
    out = lbs.pose_rig(rig, s["weights"], {"head": head, "jaw": jaw})
    rot = np.zeros((4, 5, 3))
    rot[:, 0], rot[:, 2] = head, jaw
    ref = lbs.lbs(rig.vertices, rig.basis, s["weights"], rot, parents=PARENTS, skin_weights=rig.skin_weights,
                  joint_positions=rig.joint_positions, pose_correctives=rig.pose_correctives)  # fmt: skip
    assert out.dtype == np.float32 and out.shape == (4, 30, 3)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(lbs.pose_rig(rig, s["weights"][0]), rig.shape(s["weights"][0]), atol=1e-6)
    with pytest.raises(InputError, match="no joint 'tongue'"):
        lbs.pose_rig(rig, s["weights"], {"tongue": jaw})
    with pytest.raises(InputError, match=r"must be \(4,3\)"):
        lbs.pose_rig(rig, s["weights"], {"jaw": jaw[:2]})


def test_numpy_path_does_not_import_torch() -> None:
    code = "import sys, core.lbs, core.flame, core.bfm, core.rigs, core.gltf; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"

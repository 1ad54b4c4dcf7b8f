"""BFM loader: Deep3DFaceRecon's BFM_model_front.mat layout → the bfm rig."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from core import bfm
from core.errors import InputError, ModelFormatError
from core.rig import REQUIRED_LANDMARKS, FaceRig
from tests.synthetic_assets import bfm_arrays, write_bfm_mat


def test_bfm_rig_from_mat(tmp_path: Path) -> None:
    a = write_bfm_mat(tmp_path / "BFM_model_front.mat")
    rig = bfm.load_bfm_mat(tmp_path / "BFM_model_front.mat")
    mean = a["meanshape"].reshape(-1, 3).astype(np.float64)
    assert rig.name == "bfm" and rig.num_vertices == 120
    assert rig.channels == [f"exp{i:02d}" for i in range(64)]
    np.testing.assert_allclose(rig.vertices, (mean - mean.mean(0)) * 0.1, atol=1e-6)
    np.testing.assert_allclose(rig.basis[5], a["exBase"][:, 5].reshape(-1, 3) * 0.1, atol=1e-7)
    np.testing.assert_array_equal(rig.faces, a["tri"].astype(int) - 1)
    keypoints = a["keypoints"].ravel().astype(int) - 1
    assert set(rig.landmarks) == set(REQUIRED_LANDMARKS) | {f"ibug{k:02d}" for k in range(68)}
    assert rig.landmarks["nose_tip"] == keypoints[30] and rig.landmarks["mouth_corner_R"] == keypoints[48]
    assert not rig.has_joints and rig.meta["units"] == "m"


def test_identity_and_column_meanshape(tmp_path: Path) -> None:
    a = bfm_arrays()
    a["meanshape"] = a["meanshape"].T  # (3V,1) is accepted too
    write_bfm_mat(tmp_path / "BFM_model_front.mat", a)
    ident = np.arange(80) / 80.0
    rig = bfm.load_bfm_mat(tmp_path / "BFM_model_front.mat", identity=ident)
    mean = a["meanshape"].reshape(-1, 3).astype(np.float64)
    shaped = mean + (a["idBase"].astype(np.float64) @ ident).reshape(-1, 3)
    np.testing.assert_allclose(rig.vertices, (shaped - mean.mean(0)) * 0.1, atol=1e-6)


def test_rig_wire_form_round_trip(tmp_path: Path) -> None:
    write_bfm_mat(tmp_path / "BFM_model_front.mat")
    rig = bfm.load_bfm_mat(tmp_path / "BFM_model_front.mat")
    rig.to_npz(tmp_path / "bfm.npz")
    back = FaceRig.from_npz(tmp_path / "bfm.npz")
    assert back.channels == rig.channels and back.landmarks == rig.landmarks
    np.testing.assert_array_equal(back.basis, rig.basis)


def test_bad_bfm_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        bfm.load_bfm_mat(tmp_path / "BFM_model_front.mat")
    (tmp_path / "bfm.txt").write_text("x")
    with pytest.raises(InputError, match=r"BFM_model_front\.mat"):
        bfm.load_bfm_mat(tmp_path / "bfm.txt")
    (tmp_path / "junk.mat").write_bytes(b"not matlab at all" * 20)
    with pytest.raises(InputError, match=r"junk\.mat: not a MATLAB \.mat file"):
        bfm.load_bfm_mat(tmp_path / "junk.mat")
    a = bfm_arrays()
    del a["exBase"]
    scipy.io.savemat(tmp_path / "noexp.mat", a)
    with pytest.raises(ModelFormatError, match="no 'exBase'"):
        bfm.load_bfm_mat(tmp_path / "noexp.mat")
    a = bfm_arrays()
    a["tri"] = a["tri"] - 1  # 0-based ids are not the .mat convention
    a["tri"][0] = [0, 1, 2]
    scipy.io.savemat(tmp_path / "zero.mat", a)
    with pytest.raises(ModelFormatError, match="1-based"):
        bfm.load_bfm_mat(tmp_path / "zero.mat")

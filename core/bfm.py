"""Deep3DFaceRecon's ``BFM_model_front.mat`` → the ``bfm`` rig.

The file (made by Deep3DFaceRecon's ``transferBFM09``) holds ``meanshape`` (1,3V) or (3V,1) with
x,y,z interleaved per vertex, ``idBase`` (3V,80), ``exBase`` (3V,64), ``tri`` (F,3, 1-based),
``keypoints`` (1,68, 1-based iBUG-68 vertex ids), plus texture (``meantex``, ``texBase``) and
``point_buf``, which the rig does not need. V is 35,709. Units are decimetres; like
Deep3DFaceRecon, the mean shape is recentred on its centroid; the rig is written in metres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError, ModelFormatError
from core.matlab import load_mat
from core.rig import FaceRig

NUM_VERTICES = 35709
ID_DIMS = 80
EXP_DIMS = 64
DM_TO_M = 0.1
BFM_ARRAY_BYTES = 512 * 2**20
"""Largest array the model file may declare: its bases (3V×80) are 69 MB in float64."""

# Rig landmark → iBUG-68 point (0-based, the subject's side: 36-41 right eye, 48 right mouth
# corner). Inner-lip midpoints so that a closed mouth measures a gap near zero.
IBUG68_LANDMARKS: dict[str, int] = {
    "lip_upper_mid": 62,
    "lip_lower_mid": 66,
    "mouth_corner_R": 48,
    "mouth_corner_L": 54,
    "eyelid_upper_R": 37,
    "eyelid_lower_R": 41,
    "eyelid_upper_L": 44,
    "eyelid_lower_L": 46,
    "chin": 8,
    "nose_tip": 30,
}


def _matrix(data: dict[str, Any], key: str) -> np.ndarray:
    if key not in data:
        found = ", ".join(sorted(k for k in data if not k.startswith("__")))
        raise ModelFormatError(f"not a Deep3DFaceRecon BFM model: no '{key}' (keys: {found})")
    return np.asarray(data[key])


def _basis(base: np.ndarray, n: int, key: str) -> np.ndarray:
    if base.ndim != 2 or base.shape[0] != 3 * n:
        raise ModelFormatError(f"BFM '{key}' must be ({3 * n},K), got {base.shape}")
    return base.T.reshape(base.shape[1], n, 3)


def bfm_rig(data: dict[str, Any], identity: np.ndarray | None = None, recenter: bool = True) -> FaceRig:
    """Build the ``bfm`` rig (``exp00``..``exp63``) from the loaded ``.mat`` dict."""
    mean = _matrix(data, "meanshape").astype(np.float64)
    if mean.ndim != 2 or 1 not in mean.shape or mean.size % 3:
        raise ModelFormatError(f"BFM 'meanshape' must be (1,3V) or (3V,1), got {mean.shape}")
    verts = mean.reshape(-1, 3)
    n = verts.shape[0]
    exp = _basis(_matrix(data, "exBase").astype(np.float64), n, "exBase")
    meta: dict[str, Any] = {"source": "BFM (Deep3DFaceRecon BFM_model_front.mat)", "units": "m"}
    if identity is not None:
        ids = _basis(_matrix(data, "idBase").astype(np.float64), n, "idBase")
        coeffs = np.asarray(identity, dtype=np.float64).ravel()
        if coeffs.size > ids.shape[0]:
            raise InputError(f"BFM identity has at most {ids.shape[0]} coefficients, got {coeffs.size}")
        verts = verts + np.tensordot(coeffs, ids[: coeffs.size], axes=([0], [0]))
        meta["identity"] = [float(c) for c in coeffs]
    if recenter:
        verts = verts - mean.reshape(-1, 3).mean(axis=0)
    tri = _matrix(data, "tri").astype(np.int64)
    if tri.ndim != 2 or tri.shape[1] != 3 or tri.min() < 1 or tri.max() > n:
        raise ModelFormatError(f"BFM 'tri' must be (F,3) 1-based vertex ids up to {n}")
    landmarks: dict[str, int] = {}
    if "keypoints" in data:
        keypoints = np.asarray(data["keypoints"]).astype(np.int64).ravel() - 1
        if keypoints.size == 68 and keypoints.min() >= 0 and keypoints.max() < n:
            landmarks = {name: int(keypoints[i]) for name, i in IBUG68_LANDMARKS.items()}
            landmarks.update({f"ibug{k:02d}": int(i) for k, i in enumerate(keypoints)})  # for retargeting
    if not landmarks:
        meta["warnings"] = ["no usable 68-point 'keypoints': the rig has no landmarks"]
    meta.update(vertices=n, faces=int(tri.shape[0]), expression_dims=int(exp.shape[0]))
    return FaceRig(
        name="bfm",
        vertices=verts * DM_TO_M,
        faces=tri - 1,
        channels=[f"exp{i:02d}" for i in range(exp.shape[0])],
        basis=exp * DM_TO_M,
        landmarks=landmarks,
        meta=meta,
    )


def load_bfm_mat(path: str | Path, identity: np.ndarray | None = None) -> FaceRig:
    """Read ``BFM_model_front.mat`` into the ``bfm`` rig."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"BFM model file not found: {p}")
    if p.suffix.lower() != ".mat":
        raise InputError(f"expected Deep3DFaceRecon's BFM_model_front.mat, got '{p.name}'")
    return bfm_rig(load_mat(p, f"BFM model {p}", BFM_ARRAY_BYTES), identity)

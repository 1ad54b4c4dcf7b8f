"""Expression transfer: displacement transfer in per-vertex local frames, normalised by face size.

Why displacement transfer and not deformation transfer: after identity normalisation both heads are
faces of similar proportions, and the ARKit solve is linear in the displacement. Carrying each
source displacement through the landmark similarity (global rotation and scale) and a per-vertex
local rotation (the aligned source normal onto the built-in head's normal at the corresponding
point) keeps it tangent/normal-correct on a differently shaped face, and the whole chain stays
linear: the built-in head's ARKit basis, sampled at the corresponding points and pulled back into
the source frame once per rig, makes every take one matrix product plus the bounded solve.
Deformation transfer (Sumner & Popović 2004) copes with larger shape differences but needs a
sparse solve per frame and a triangle correspondence, for no gain in the linear solve here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from core.retarget.landmarks import EYE_POINTS, MOUTH_POINTS, ibug68
from core.retarget.register import Correspondence
from core.rig import FaceRig

LIP_WEIGHT = 4.0  # extra weight of the lips in the solve
LID_WEIGHT = 4.0  # and of the eyelids
REGION_SIGMA = 0.25  # face sizes: reach of the lip and lid weights


@dataclass
class Transfer:
    """A source rig's face region with the target basis pulled back onto it (all float64).

    ``pulled`` (N,3,C): the target's C channels at the source's N region vertices, in the source's
    frame and units; ``weights`` (N,) the region weights (lips and lids count most), normalised so
    that the data term is in face sizes squared; ``gram`` = Σ weights · pulledᵀ pulled.
    """

    source_ids: np.ndarray
    pulled: np.ndarray
    weights: np.ndarray
    gram: np.ndarray
    corr: Correspondence

    def project(self, displacement: np.ndarray) -> np.ndarray:
        """Σ_v weights_v pulled_vᵀ d_v for source displacements (T,N,3) → (T,C)."""
        return np.einsum("tna,nac->tc", displacement, self.pulled * self.weights[:, None, None])

    def project_basis(self, basis: np.ndarray) -> np.ndarray:
        """The same for a source basis (K,N,3) → (K,C)."""
        return self.project(basis)


def build_transfer(corr: Correspondence, target: FaceRig) -> Transfer:
    """Sample ``target``'s basis at the correspondence and pull it into the source frame."""
    tri, bary = corr.target_triangles, corr.bary
    basis = target.basis.astype(np.float64)  # (C,V,3)
    at_points = np.einsum("cnka,nk->nac", basis[:, tri], bary)  # (N,3,C)
    local_t = np.transpose(corr.local, (0, 2, 1))  # Q_vᵀ
    pulled = np.einsum("ab,nbc->nac", corr.rotation.T, np.einsum("nab,nbc->nac", local_t, at_points)) / corr.scale
    # lips and lids count most: distance of each point to the target's mouth and eye landmarks
    lm_t = ibug68(target)
    v = target.vertices.astype(np.float64)
    points = np.einsum("nka,nk->na", v[tri], bary)
    sigma = REGION_SIGMA * corr.target_size
    d_mouth, _ = cKDTree(v[lm_t[MOUTH_POINTS]]).query(points)
    d_eyes, _ = cKDTree(v[lm_t[EYE_POINTS]]).query(points)
    w = 1.0 + LIP_WEIGHT * np.exp(-((d_mouth / sigma) ** 2)) + LID_WEIGHT * np.exp(-((d_eyes / sigma) ** 2))
    w = w * corr.confidence
    w = w / max(w.sum(), 1e-30) / corr.source_size**2
    gram = np.einsum("nac,nad->cd", pulled * w[:, None, None], pulled)
    return Transfer(source_ids=corr.source_vertices, pulled=pulled, weights=w, gram=gram, corr=corr)

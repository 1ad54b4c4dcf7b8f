"""Landmark-guided non-rigid registration of a source face onto the built-in head.

Optimal-step non-rigid ICP (Amberg, Romdhani & Vetter, CVPR 2007): every source vertex of the face
region gets its own affine transform; each step solves, as one sparse linear least-squares problem
(normal equations, SuperLU), for transforms that pull the vertices onto their closest target points
and the 68 landmarks onto the target's landmarks, while a stiffness term keeps neighbouring
transforms alike. The stiffness falls over a schedule, so the fit goes from nearly rigid to local.
Identity scale is taken out first by a landmark similarity (Umeyama), and everything runs in units
of the target face size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from core.lbs import axis_angle_to_matrix
from core.retarget.geometry import (
    Surface,
    edges,
    similarity,
    smoothed_normals,
    triangles,
    vertex_normals,
)
from core.retarget.landmarks import IBUG_WEIGHTS, face_region, face_size, ibug68
from core.rig import FaceRig

# (stiffness, landmark weight) per stage; three closest-point iterations each
SCHEDULE: tuple[tuple[float, float], ...] = ((50.0, 5.0), (20.0, 3.0), (8.0, 2.0), (3.0, 1.0), (1.0, 0.5), (0.4, 0.3))
ITERATIONS = 3
DAMPING = 1e-6
REJECT_DISTANCE = 0.3  # face sizes: farther closest points do not pull
REJECT_NORMAL = 0.3  # cosine: closest points facing away do not pull
TARGET_PARTS = ("skin", "mouth_interior")
SHEET_TOLERANCE = 0.02  # face sizes: candidates this much farther still count as touching sheets
NORMAL_COST = 0.1  # face sizes: how far a closest point may be to face the right way
FRAME_RADIUS = 0.2  # face sizes: the patch whose mean normal defines a local frame
FRAME_DEAD_ZONE = np.radians(8.0)
FRAME_LIMIT = np.radians(40.0)


@dataclass
class Correspondence:
    """Where each face-region vertex of a source rig lies on the built-in head.

    ``rotation`` and ``scale`` map source displacements into the target's frame (the landmark
    similarity), ``local`` (N,3,3) turns the aligned source normal onto the target's at each point.
    ``confidence`` (N,) is 0 where the fit left a vertex far from the surface.
    """

    source_vertices: np.ndarray
    target_triangles: np.ndarray  # (N,3) target vertex ids of the triangle each point lies on
    bary: np.ndarray
    local: np.ndarray
    rotation: np.ndarray
    scale: float
    translation: np.ndarray
    source_size: float
    target_size: float
    confidence: np.ndarray
    stats: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "source_vertices": self.source_vertices,
            "target_triangles": self.target_triangles,
            "bary": self.bary,
            "local": self.local,
            "rotation": self.rotation,
            "scale": np.array(self.scale),
            "translation": self.translation,
            "source_size": np.array(self.source_size),
            "target_size": np.array(self.target_size),
            "confidence": self.confidence,
        }

    @classmethod
    def from_arrays(cls, z, stats: dict) -> Correspondence:
        return cls(
            source_vertices=z["source_vertices"],
            target_triangles=z["target_triangles"],
            bary=z["bary"],
            local=z["local"],
            rotation=z["rotation"],
            scale=float(z["scale"]),
            translation=z["translation"],
            source_size=float(z["source_size"]),
            target_size=float(z["target_size"]),
            confidence=z["confidence"],
            stats=stats,
        )


def _region_mesh(rig: FaceRig, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids of the region and its triangles re-indexed to them."""
    tris = triangles(rig.faces)
    tris = tris[mask[tris].all(axis=1)]
    ids = np.unique(tris)  # vertices on no region triangle have no neighbours to stiffen them
    remap = np.full(rig.num_vertices, -1)
    remap[ids] = np.arange(len(ids))
    return ids, remap[tris]


def nicp(
    points: np.ndarray,
    tris: np.ndarray,
    surface: Surface,
    lm_rows: np.ndarray,
    lm_targets: np.ndarray,
    lm_weights: np.ndarray,
) -> np.ndarray:
    """Deform ``points`` (N,3) onto ``surface``; returns the deformed points."""
    n = len(points)
    e = edges(tris)
    m = sparse.coo_matrix(
        (np.concatenate([-np.ones(len(e)), np.ones(len(e))]), (np.tile(np.arange(len(e)), 2), e.T.ravel())),
        shape=(len(e), n),
    )
    stiff = sparse.kron(m, sparse.diags([1.0, 1.0, 1.0, 1.0])).tocsr()
    homo = np.hstack([points, np.ones((n, 1))])
    rows = np.repeat(np.arange(n), 4)
    d = sparse.csr_matrix((homo.ravel(), (rows, np.arange(4 * n))), shape=(n, 4 * n))
    d_lm = d[lm_rows]
    x = np.tile(np.vstack([np.eye(3), np.zeros((1, 3))]), (n, 1))
    for alpha, beta in SCHEDULE:
        for _ in range(ITERATIONS):
            cur = d @ x
            n_src = vertex_normals(cur, tris)
            tri, bary, q = surface.closest(cur, n_src, NORMAL_COST)
            n_tgt = surface.interpolate(surface.normals, tri, bary)
            dist = np.linalg.norm(q - cur, axis=1)
            on_border = surface.border[surface.tris[tri]].all(axis=1)
            w = ((dist < REJECT_DISTANCE) & (np.sum(n_src * n_tgt, 1) > REJECT_NORMAL) & ~on_border).astype(float)
            wl = beta * lm_weights
            a = sparse.vstack([alpha * stiff, sparse.diags(w) @ d, sparse.diags(wl) @ d_lm]).tocsc()
            b = np.vstack([np.zeros((stiff.shape[0], 3)), w[:, None] * q, wl[:, None] * lm_targets])
            damp = sparse.identity(4 * n) * DAMPING  # keeps unanchored pieces where they were
            x_new = spsolve((a.T @ a + damp).tocsc(), a.T @ b + DAMPING * x)
            step = np.abs(x_new - x).max()
            x = np.asarray(x_new)
            if step < 1e-4:
                break
    return np.asarray(d @ x)


def local_frames(n_src: np.ndarray, n_tgt: np.ndarray) -> np.ndarray:
    """(N,3,3) rotations turning the aligned source normals towards the target's.

    Differences under ``FRAME_DEAD_ZONE`` are tessellation noise and stay unrotated (the rest is
    rotated by the excess); above ``FRAME_LIMIT`` the frames are not trustworthy (creases, lip and
    lid margins) and the global alignment is kept.
    """
    cross = np.cross(n_src, n_tgt)
    angle = np.arctan2(np.linalg.norm(cross, axis=1), np.sum(n_src * n_tgt, axis=1))
    axis = cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-12)
    turn = np.where(angle > FRAME_LIMIT, 0.0, np.maximum(angle - FRAME_DEAD_ZONE, 0.0))
    return axis_angle_to_matrix(axis * turn[:, None])


def _settle_sheets(surface: Surface, points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final closest points, with touching sheets (closed lips, lids) decided by the neighbours.

    Where a point lies as near to another, unconnected part of the target as to its best match
    (the upper and lower lip of a closed mouth coincide), it takes the candidate whose triangle
    is connected (within two edges) to where most of its mesh neighbours landed.
    """
    cand, bary, q, dist2, cost = surface.candidates(points, vertex_normals(points, tris), NORMAL_COST)
    rows = np.arange(len(points))
    best = np.argmin(cost, axis=1)
    near = dist2 <= dist2[rows, best][:, None] + SHEET_TOLERANCE**2
    ring = surface.rings()
    first = surface.tris[cand[..., None], 0][..., 0]  # one vertex per candidate triangle
    same = np.asarray(ring[np.repeat(first[rows, best], cand.shape[1]), first.ravel()]).reshape(cand.shape)
    ambiguous = np.flatnonzero((near & ~same).any(axis=1))
    if len(ambiguous):
        e = edges(tris)
        nbrs: list[list[int]] = [[] for _ in range(len(points))]
        for a, b in e:
            nbrs[a].append(int(b))
            nbrs[b].append(int(a))
        settled = np.ones(len(points), dtype=bool)
        settled[ambiguous] = False
        for _ in range(3):
            for v in ambiguous:
                votes = [surface.tris[cand[u, best[u]]] for u in nbrs[v] if settled[u]]
                if not votes:
                    continue
                landed = np.unique(np.concatenate(votes))
                options = np.flatnonzero(near[v])
                score = [ring[surface.tris[cand[v, m]]][:, landed].nnz for m in options]
                top = max(score)
                pick = [m for m, sc in zip(options, score, strict=True) if sc == top]
                best[v] = min(pick, key=lambda m: cost[v, m])
                settled[v] = True
    return cand[rows, best], bary[rows, best], q[rows, best]


def register(source: FaceRig, target: FaceRig) -> Correspondence:
    """Register ``source``'s face region onto ``target`` (the built-in head)."""
    t0 = time.perf_counter()
    lm_s, lm_t = ibug68(source), ibug68(target)
    vs, vt = source.vertices.astype(np.float64), target.vertices.astype(np.float64)
    size_t = face_size(vt[lm_t])
    scale, rot, trans = similarity(vs[lm_s], vt[lm_t], IBUG_WEIGHTS)
    # work in target face sizes: the aligned source and the target both scaled by 1/size_t
    aligned = (scale * vs @ rot.T + trans) / size_t
    tgt = vt / size_t
    s_ids, s_tris = _region_mesh(source, face_region(source, lm_s))
    t_ids, t_tris = _region_mesh(target, face_region(target, lm_t, TARGET_PARTS))
    surface = Surface(tgt[t_ids], t_tris)
    pos = {int(v): i for i, v in enumerate(s_ids)}
    lm_keep = [k for k in range(68) if int(lm_s[k]) in pos]
    lm_rows = np.array([pos[int(lm_s[k])] for k in lm_keep])
    deformed = nicp(aligned[s_ids], s_tris, surface, lm_rows, tgt[lm_t[lm_keep]], IBUG_WEIGHTS[lm_keep])
    tri, bary, q = _settle_sheets(surface, deformed, s_tris)
    residual = np.linalg.norm(q - deformed, axis=1)
    # local frames from normals smoothed over a patch: the shape of the face, not its tessellation
    src_pts = aligned[s_ids]
    n_src = smoothed_normals(src_pts, src_pts, vertex_normals(src_pts, s_tris), FRAME_RADIUS)
    n_tgt = smoothed_normals(q, surface.vertices, surface.normals, FRAME_RADIUS)
    # where the normals disagree a lot (creases, the lip and lid margins) the frames are not
    # trustworthy: keep the global alignment there
    local = local_frames(n_src, n_tgt)
    lm_err = np.linalg.norm(q[lm_rows] - tgt[lm_t[lm_keep]], axis=1)
    confidence = (residual < 0.05).astype(np.float32)
    return Correspondence(
        source_vertices=s_ids,
        target_triangles=t_ids[surface.tris[tri]],
        bary=bary,
        local=local,
        rotation=rot,
        scale=scale,
        translation=trans,
        source_size=face_size(vs[lm_s]),
        target_size=size_t,
        confidence=confidence,
        stats={
            "seconds": time.perf_counter() - t0,
            "source_region_vertices": len(s_ids),
            "target_region_vertices": len(t_ids),
            "mean_residual": float(residual.mean()),
            "landmark_error": float(lm_err.mean()),
            "confident": float(confidence.mean()),
        },
    )


def self_correspondence(rig: FaceRig) -> Correspondence:
    """Every vertex of ``rig`` on itself (identity frames): the built-in head as its own source."""
    ids = np.unique(triangles(rig.faces))
    size = face_size(rig.vertices[ibug68(rig)])
    tri = np.stack([ids, ids, ids], axis=1)
    bary = np.zeros((len(ids), 3))
    bary[:, 0] = 1.0
    return Correspondence(
        source_vertices=ids,
        target_triangles=tri,
        bary=bary,
        local=np.broadcast_to(np.eye(3), (len(ids), 3, 3)).copy(),
        rotation=np.eye(3),
        scale=1.0,
        translation=np.zeros(3),
        source_size=size,
        target_size=size,
        confidence=np.ones(len(ids), dtype=np.float32),
        stats={"seconds": 0.0, "identity": True},
    )

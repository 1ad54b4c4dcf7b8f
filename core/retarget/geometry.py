"""Mesh helpers for registration: triangles, normals, closest points on a surface, similarity fits."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def triangles(faces: np.ndarray) -> np.ndarray:
    """(F,3) triangles, or (F,4) quads with -1 marking a triangle → (F',3) triangles."""
    f = np.asarray(faces, dtype=np.int64)
    if f.shape[1] == 3:
        return f
    quad = f[:, 3] >= 0
    return np.concatenate([f[:, :3], f[quad][:, [0, 2, 3]]])


def vertex_normals(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V,3); isolated vertices get (0,0,0)."""
    v = np.asarray(vertices, dtype=np.float64)
    fn = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)


def smoothed_normals(points: np.ndarray, vertices: np.ndarray, normals: np.ndarray, radius: float) -> np.ndarray:
    """Unit normals at ``points``: the vertex normals within ``radius`` blended with a linear falloff."""
    near = cKDTree(points).sparse_distance_matrix(cKDTree(vertices), radius, output_type="coo_matrix")
    w = sparse.coo_matrix((1.0 - near.data / radius + 1e-9, (near.row, near.col)), shape=near.shape).tocsr()
    n = w @ normals
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def edges(tris: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E,2) of a triangle list."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def component_of(n_vertices: int, tris: np.ndarray, seed: int) -> np.ndarray:
    """Boolean mask of the vertices connected to ``seed`` through the triangles."""
    e = edges(tris)
    graph = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices))
    _, labels = connected_components(graph, directed=False)
    return labels == labels[seed]


def similarity(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama's weighted similarity (scale s, rotation R, translation t) with dst ≈ s R src + t."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    cov = (b * w[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / (w @ np.sum(a * a, axis=1)))
    return scale, rot, mu_d - scale * rot @ mu_s


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,3,3) minimal rotations taking unit vectors a (N,3) onto b (N,3)."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=1)
    k = np.zeros((len(a), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    factor = 1.0 / np.maximum(1.0 + c, 1e-6)
    return np.eye(3) + k + (k @ k) * factor[:, None, None]


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N,3) of the closest point to p on each triangle abc (Ericson 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.sum(ab * ap, -1), np.sum(ac * ap, -1)
    bp = p - b
    d3, d4 = np.sum(ab * bp, -1), np.sum(ac * bp, -1)
    cp = p - c
    d5, d6 = np.sum(ab * cp, -1), np.sum(ac * cp, -1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < 1e-30, 1e-30, denom)
    v, w = vb / denom, vc / denom
    bary = np.stack([1 - v - w, v, w], -1)
    regions = [
        ((d1 <= 0) & (d2 <= 0), (1.0, 0.0, 0.0)),
        ((d3 >= 0) & (d4 <= d3), (0.0, 1.0, 0.0)),
        ((d6 >= 0) & (d5 <= d6), (0.0, 0.0, 1.0)),
    ]
    t_ab = d1 / np.where(np.abs(d1 - d3) < 1e-30, 1e-30, d1 - d3)
    t_ac = d2 / np.where(np.abs(d2 - d6) < 1e-30, 1e-30, d2 - d6)
    t_bc = (d4 - d3) / np.where(np.abs((d4 - d3) + (d5 - d6)) < 1e-30, 1e-30, (d4 - d3) + (d5 - d6))
    edge_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    edge_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    edge_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    bary = np.where(edge_bc[..., None], np.stack([0 * t_bc, 1 - t_bc, t_bc], -1), bary)
    bary = np.where(edge_ac[..., None], np.stack([1 - t_ac, 0 * t_ac, t_ac], -1), bary)
    bary = np.where(edge_ab[..., None], np.stack([1 - t_ab, t_ab, 0 * t_ab], -1), bary)
    for mask, value in reversed(regions):
        bary = np.where(mask[..., None], np.asarray(value), bary)
    return bary


class Surface:
    """A triangle surface that answers closest-point queries (triangle, barycentric, point, normal)."""

    def __init__(self, vertices: np.ndarray, tris: np.ndarray, candidates: int = 8) -> None:
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.tris = np.asarray(tris, dtype=np.int64)
        used = np.unique(self.tris)
        self.normals = vertex_normals(self.vertices, self.tris)
        self._used = used
        self._tree = cKDTree(self.vertices[used])
        self._k = candidates
        # vertex → incident triangles, padded with -1
        order = np.argsort(self.tris.ravel(), kind="stable")
        owner = order // 3
        counts = np.bincount(self.tris.ravel(), minlength=len(self.vertices))
        width = int(counts.max())
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(len(order)) - np.repeat(start, counts)
        table = np.full((len(self.vertices), width), -1, dtype=np.int64)
        table[self.tris.ravel()[order], slot] = owner
        self._incident = table
        # edges used by a single triangle mark the border
        e = np.sort(np.concatenate([self.tris[:, [0, 1]], self.tris[:, [1, 2]], self.tris[:, [2, 0]]]), axis=1)
        uniq, count = np.unique(e, axis=0, return_counts=True)
        self.border = np.zeros(len(self.vertices), dtype=bool)
        self.border[uniq[count == 1].ravel()] = True

    def candidates(
        self, points: np.ndarray, normals: np.ndarray | None = None, normal_cost: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Closest points on the triangles around each point's nearest vertices.

        Returns triangle ids (N,M), barycentric (N,M,3), points (N,M,3), squared distances (N,M)
        and costs (N,M) (inf where padded). With ``normals`` a candidate costs
        ``distance² + normal_cost² (1 - cos)`` against the surface normal there.
        """
        p = np.asarray(points, dtype=np.float64)
        k = min(self._k, len(self._used))
        _, near = self._tree.query(p, k=k)
        near = self._used[np.asarray(near).reshape(len(p), k)]
        cand = self._incident[near].reshape(len(p), -1)
        valid = cand >= 0
        safe = np.where(valid, cand, 0)
        tri = self.tris[safe]  # (N,M,3)
        a, b, c = (self.vertices[tri[..., i]] for i in range(3))
        bary = _closest_on_triangles(p[:, None, :], a, b, c)
        q = bary[..., :1] * a + bary[..., 1:2] * b + bary[..., 2:] * c
        dist2 = np.where(valid, np.sum((q - p[:, None]) ** 2, -1), np.inf)
        cost = dist2
        if normals is not None:
            nq = np.einsum("nmk,nmka->nma", bary, self.normals[tri])
            nq /= np.maximum(np.linalg.norm(nq, axis=-1, keepdims=True), 1e-12)
            cost = cost + normal_cost**2 * (1.0 - np.einsum("nma,na->nm", nq, normals))
        return safe, bary, q, dist2, cost

    def closest(
        self, points: np.ndarray, normals: np.ndarray | None = None, normal_cost: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each point: (triangle index, barycentric (N,3), closest point (N,3)); see :meth:`candidates`.

        The normal term makes a point between two touching sheets (closed lips) land on the sheet
        that faces its way.
        """
        tri, bary, q, _, cost = self.candidates(points, normals, normal_cost)
        best = np.argmin(cost, axis=1)
        rows = np.arange(len(tri))
        return tri[rows, best], bary[rows, best], q[rows, best]

    def rings(self, hops: int = 2) -> sparse.csr_matrix:
        """Which vertices lie within ``hops`` edges of each other (sparse boolean V×V)."""
        e = edges(self.tris)
        n = len(self.vertices)
        adj = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
        adj = adj + adj.T + sparse.identity(n, format="csr")
        ring = adj
        for _ in range(hops - 1):
            ring = ring @ adj
        return (ring > 0).tocsr()

    def interpolate(self, values: np.ndarray, tri: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Per-vertex values (V,...) interpolated at (triangle, barycentric) points → (N,...)."""
        idx = self.tris[tri]  # (N,3)
        vals = np.asarray(values)[idx]  # (N,3,...)
        shape = bary.shape + (1,) * (vals.ndim - 2)
        return np.sum(vals * bary.reshape(shape), axis=1)

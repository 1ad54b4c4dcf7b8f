"""Source rigs with a known answer, for tests and ``mouthpiece bench retarget`` (no licensed files).

The built-in head is remeshed to another topology (vertex clustering with a random grid offset, each
new vertex moved off the old vertices to a point inside a neighbouring triangle), given its own
vertex order, rescaled, rotated into FLAME's axes (Y up, Z forward) and shifted. Its expression basis
is a known linear map of the ARKit shapes sampled at the new vertices: ``basis_k = Σ_c M[k,c] arkit_c``.
With ``M`` of orthonormal columns, the source coefficients ``x = M w`` reproduce ARKit weights ``w``
exactly, so a retarget must give ``w`` back. Two eyeballs (separate pieces, like FLAME's) fill the
vertex count, so that the face-region selection is tested too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from core.arkit import ARKIT_CHANNELS
from core.bfm import IBUG68_LANDMARKS
from core.retarget.geometry import triangles, vertex_normals
from core.retarget.landmarks import FLAME_IBUG68, IBUG_NAMES, ibug68
from core.rig import FaceRig

TO_FLAME_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""Built-in head axes (Z up, looking down -Y) → FLAME's (Y up, looking down +Z)."""
NOT_ON_SKIN = ("eyeLook", "tongueOut")
"""ARKit channels that move no skin of the built-in head's face region (eyeballs, tongue)."""


@dataclass
class Remeshed:
    """A remeshed copy of the head's skin in the head's frame."""

    tri: np.ndarray  # (N,3) head vertex ids of the triangle each new vertex lies in
    bary: np.ndarray  # (N,3)
    faces: np.ndarray  # (F,3) over the new vertices
    landmarks: np.ndarray  # (68,) new-vertex ids of the iBUG points

    def sample(self, values: np.ndarray) -> np.ndarray:
        """Head per-vertex values (V,...) or (C,V,3) (axis -2 = vertices) at the new vertices."""
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 3:
            return np.einsum("cnka,nk->cna", v[:, self.tri], self.bary)
        return np.einsum("nk...,nk->n...", v[self.tri], self.bary)


def skin_channels() -> list[str]:
    return [c for c in ARKIT_CHANNELS if not c.startswith(NOT_ON_SKIN)]


def remesh(head: FaceRig, cell: float, seed: int = 0) -> Remeshed:
    """Vertex-clustering decimation of the head's skin, with the 68 landmarks kept as vertices."""
    rng = np.random.default_rng(seed)
    v = head.vertices.astype(np.float64)
    tris = triangles(head.faces)
    skin = np.asarray(head.vertex_parts) == head.part_names.index("skin")
    tris = tris[skin[tris].all(axis=1)]
    used = np.unique(tris)
    assert head.skin_weights is not None
    jaw_side = head.skin_weights[:, head.joint_names.index("jaw")] > 0.5
    normals = vertex_normals(v, tris)
    octant = (normals > 0) @ np.array([1, 2, 4])
    cellv = np.floor((v + rng.uniform(0, cell, 3)) / cell).astype(np.int64)
    keys = np.column_stack([cellv, jaw_side, octant, np.zeros(len(v), dtype=np.int64)])
    lm = ibug68(head)
    keys[lm, 5] = np.arange(1, 69)  # each landmark its own cluster
    _, cluster = np.unique(keys[used], axis=0, return_inverse=True)
    cluster = cluster.ravel()
    n = int(cluster.max()) + 1
    ids = np.full(len(v), -1)
    ids[used] = cluster
    # representative: the member nearest the cluster mean; the landmarks stay exactly where they are
    mean = np.zeros((n, 3))
    np.add.at(mean, cluster, v[used])
    mean /= np.bincount(cluster, minlength=n)[:, None]
    d = np.linalg.norm(v[used] - mean[cluster], axis=1)
    order = np.lexsort((d, cluster))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    rep = used[order[first]]
    # move each representative into a triangle around it (same jaw side), off the old vertices
    tri = np.zeros((n, 3), dtype=np.int64)
    bary = np.zeros((n, 3))
    incident: dict[int, list[int]] = {}
    for f, t in enumerate(tris):
        for k in t:
            incident.setdefault(int(k), []).append(f)
    keep = set(int(i) for i in lm)
    for c, r in enumerate(rep):
        options = [f for f in incident[int(r)] if (jaw_side[tris[f]] == jaw_side[r]).all()]
        t = tris[options[rng.integers(len(options))]] if options and int(r) not in keep else None
        if t is None:
            tri[c], bary[c] = tris[incident[int(r)][0]], 0.0
            bary[c, list(tris[incident[int(r)][0]]).index(int(r))] = 1.0
            continue
        w = rng.uniform(0.1, 0.25, 3)
        own = list(t).index(int(r))
        w[own] = 0.0
        w[own] = 1.0 - w.sum()
        tri[c], bary[c] = t, w
    faces = ids[tris]
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[ok]
    _, first_face = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    return Remeshed(tri=tri, bary=bary, faces=faces[np.sort(first_face)], landmarks=ids[lm])


def _eyeball(center: np.ndarray, radius: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """A Fibonacci-sphere eyeball of ``count`` points and its convex-hull triangles."""
    k = np.arange(count) + 0.5
    z = 1 - 2 * k / count
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    pts = center + radius * np.column_stack([r * np.cos(phi), r * np.sin(phi), z])
    return pts, ConvexHull(pts).simplices


def mixing_matrix(rows: int, seed: int = 0) -> np.ndarray:
    """(rows, 52) with orthonormal columns over the skin channels (zero for eyeLook / tongueOut)."""
    cols = [ARKIT_CHANNELS.index(c) for c in skin_channels()]
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(rows, len(cols))))
    m = np.zeros((rows, len(ARKIT_CHANNELS)))
    m[:, cols] = q
    return m


@dataclass
class SyntheticSource:
    """A source rig's arrays in its own frame, plus the truth: ``x = w @ mixing.T`` for ARKit ``w``."""

    vertices: np.ndarray
    faces: np.ndarray
    basis: np.ndarray  # (K,V,3)
    landmarks: np.ndarray  # (68,)
    mixing: np.ndarray  # (K,52)
    jaw_weight: np.ndarray  # (V,)
    joints: np.ndarray  # (5,3) head, neck, jaw, eye_L, eye_R in the source frame
    eyes: np.ndarray  # (V,) 0 skin, 1 eye_L, 2 eye_R
    to_source: tuple[float, np.ndarray, np.ndarray]  # scale, rotation, shift: head frame → source


def synthetic_source(
    head: FaceRig,
    n_vertices: int | None = None,
    n_channels: int = 100,
    cell: float = 0.0058,
    scale: float = 1.3,
    seed: int = 0,
    landmark_ids: tuple[int, ...] | None = None,
    mixing: np.ndarray | None = None,
) -> SyntheticSource:
    """The head remeshed and moved into its own frame; ``n_vertices`` pads with eyeballs to that count.

    ``landmark_ids`` places the 68 landmarks at those vertex ids (FLAME's); other vertices are shuffled.
    """
    rng = np.random.default_rng(seed + 1)
    mesh = remesh(head, cell, seed)
    pts = mesh.sample(head.vertices)
    n_skin = len(pts)
    total = n_vertices or n_skin + 400
    if total - n_skin < 200:
        raise ValueError(f"{n_skin} skin vertices leave too few of {total} for the eyeballs")
    centers, radius = [], 0.0
    for side in ("eye_L", "eye_R"):
        ev = head.vertices[np.asarray(head.vertex_parts) == head.part_names.index(side)].astype(np.float64)
        centers.append(ev.mean(axis=0))
        radius = float(np.linalg.norm(ev - ev.mean(axis=0), axis=1).max())
    n_left = (total - n_skin) // 2
    eye_l, f_l = _eyeball(centers[0], radius, n_left)
    eye_r, f_r = _eyeball(centers[1], radius, total - n_skin - n_left)
    verts = np.concatenate([pts, eye_l, eye_r])
    faces = np.concatenate([mesh.faces, f_l + n_skin, f_r + n_skin + n_left])
    mixing = mixing_matrix(n_channels, seed) if mixing is None else np.asarray(mixing, dtype=np.float64)
    arkit = mesh.sample(head.basis)  # (52,n_skin,3)
    basis = np.zeros((n_channels, total, 3))
    basis[:, :n_skin] = np.tensordot(mixing, arkit, axes=([1], [0]))
    assert head.skin_weights is not None and head.joint_positions is not None
    jaw = np.zeros(total)
    jaw[:n_skin] = _jaw_weights(head, pts, arkit[ARKIT_CHANNELS.index("jawOpen")])
    eyes = np.concatenate([np.zeros(n_skin), np.ones(n_left), np.full(total - n_skin - n_left, 2)]).astype(int)
    joints = head.joint_positions.astype(np.float64).copy()
    joints[3:5] = centers
    # own vertex order: the landmarks at the given ids, everything else shuffled (eyeballs last)
    perm = np.arange(total)
    skin_order = rng.permutation(n_skin)
    if landmark_ids is not None:
        free = np.setdiff1d(np.arange(n_skin), np.asarray(landmark_ids))
        rest = np.setdiff1d(np.arange(n_skin), mesh.landmarks)
        skin_order = np.empty(n_skin, dtype=np.int64)
        skin_order[np.asarray(landmark_ids)] = mesh.landmarks
        skin_order[free] = rng.permutation(rest)
    perm[:n_skin] = skin_order  # new id i holds old vertex perm[i]
    inverse = np.argsort(perm)
    rot_extra = _small_rotation(rng, np.radians(12.0))
    rotation = rot_extra @ TO_FLAME_AXES
    shift = rng.normal(scale=0.05, size=3)
    verts = scale * verts[perm] @ rotation.T + shift
    return SyntheticSource(
        vertices=verts,
        faces=inverse[faces],
        basis=scale * basis[:, perm] @ rotation.T,
        landmarks=inverse[mesh.landmarks],
        mixing=mixing,
        jaw_weight=jaw[perm],
        joints=scale * joints @ rotation.T + shift,
        eyes=eyes[perm],
        to_source=(scale, rotation, shift),
    )


def _jaw_weights(head: FaceRig, points: np.ndarray, jaw_open: np.ndarray) -> np.ndarray:
    """Per-point jaw skinning weights under which a jaw turn by the head's jawOpen angle reproduces
    the jawOpen shape sampled there (the sampled shape is not the sampled weight times the turn)."""
    from core.lbs import axis_angle_to_matrix

    assert head.joint_positions is not None
    angle = float(head.meta.get("jaw_open_angle", 0.34))
    turn = axis_angle_to_matrix(np.array([angle, 0.0, 0.0])) - np.eye(3)
    d = (points - head.joint_positions[head.joint_names.index("jaw")]) @ turn.T
    return np.clip(np.sum(d * jaw_open, axis=1) / np.maximum(np.sum(d * d, axis=1), 1e-18), 0.0, 1.0)


def _small_rotation(rng: np.random.Generator, angle: float) -> np.ndarray:
    from core.lbs import axis_angle_to_matrix

    axis = rng.normal(size=3)
    return axis_angle_to_matrix(angle * axis / np.linalg.norm(axis))


def synthetic_rig(head: FaceRig, seed: int = 0, **kwargs) -> tuple[FaceRig, np.ndarray]:
    """A generic source rig (no joints) and its mixing matrix; landmarks ``ibugNN`` + the named ten."""
    s = synthetic_source(head, seed=seed, **kwargs)
    marks = {name: int(i) for name, i in zip(IBUG_NAMES, s.landmarks, strict=True)}
    marks.update({name: int(s.landmarks[k]) for name, k in IBUG68_LANDMARKS.items()})
    rig = FaceRig(
        name="synthetic",
        vertices=s.vertices,
        faces=s.faces,
        channels=[f"mix{k:03d}" for k in range(len(s.basis))],
        basis=s.basis,
        landmarks=marks,
    )
    return rig, s.mixing


def flame_arrays(
    head: FaceRig, seed: int = 0, mixing: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Arrays of a FLAME-format model (5,023 vertices, FLAME's landmark ids, 100 expressions, 5 joints).

    ``mixing`` (100,52) sets the expression basis (``exp_k = Σ_c mixing[k,c] arkit_c``); default random orthonormal.
    """
    for cell in np.arange(0.0060, 0.0090, 0.0002):  # ~4,000 skin vertices; FLAME's ids need ≥ 3,869
        if 3900 <= len(remesh(head, float(cell), seed).tri) <= 4400:
            break
    s = synthetic_source(head, n_vertices=5023, landmark_ids=FLAME_IBUG68, seed=seed, cell=float(cell), mixing=mixing)
    n = len(s.vertices)
    weights = np.zeros((n, 5))
    weights[:, 2] = s.jaw_weight
    weights[:, 1] = 1.0 - s.jaw_weight
    weights[s.eyes == 1] = (0, 0, 0, 1, 0)
    weights[s.eyes == 2] = (0, 0, 0, 0, 1)
    regressor = np.zeros((5, n))
    for j, p in enumerate(s.joints):
        near = np.argsort(np.linalg.norm(s.vertices - p, axis=1))[:12]
        a = np.vstack([s.vertices[near].T, np.ones(12)])
        regressor[j, near] = np.linalg.lstsq(a, np.append(p, 1.0), rcond=None)[0]
    rng = np.random.default_rng(seed + 7)
    shapedirs = np.concatenate([rng.normal(scale=1e-4, size=(n, 3, 300)), np.transpose(s.basis, (1, 2, 0))], axis=2)
    arrays = {
        "v_template": s.vertices,
        "f": s.faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((n, 3, 36)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.uint32),
    }
    return arrays, s.mixing


def bfm_arrays(head: FaceRig, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Arrays of a Deep3DFaceRecon ``BFM_model_front.mat`` (decimetres, 64 expressions, 68 keypoints)."""
    s = synthetic_source(head, n_channels=64, seed=seed, scale=10.0, cell=0.005)
    n = len(s.vertices)
    rng = np.random.default_rng(seed + 11)
    return {
        "meanshape": s.vertices.reshape(1, -1).astype(np.float32),
        "idBase": rng.normal(scale=1e-3, size=(3 * n, 80)).astype(np.float32),
        "exBase": np.transpose(s.basis, (1, 2, 0)).reshape(3 * n, -1).astype(np.float32),
        "meantex": np.full((1, 3 * n), 128.0, dtype=np.float32),
        "texBase": np.zeros((3 * n, 80), dtype=np.float32),
        "tri": (s.faces + 1).astype(np.float64),
        "point_buf": np.ones((n, 8)),
        "keypoints": (s.landmarks + 1).astype(np.float64)[None],
    }, s.mixing


def _bumps(rng: np.random.Generator, t: np.ndarray, rate: float, width: float, height: float) -> np.ndarray:
    """Sum of Gaussian bumps at random times (about ``rate`` per second), clipped to [0, 1]."""
    n = rng.poisson(rate * (t[-1] + 1e-9)) if len(t) else 0
    centers = rng.uniform(0, t[-1] if len(t) else 0, n)
    heights = rng.uniform(0.3, 1.0, n) * height
    out = np.zeros_like(t)
    for c, h in zip(centers, heights, strict=True):
        out += h * np.exp(-(((t - c) / width) ** 2))
    return np.clip(out, 0.0, 1.0)


def speech_like_weights(frames: int, fps: float = 25.0, seed: int = 0) -> np.ndarray:
    """(T,52) ARKit weights shaped like speech: syllabic jaw, bilabial closures, blinks, brows, smiles.

    Every ~0.7 s the lips close for three frames with the jaw slightly open (mouthClose = jawOpen,
    as for /m b p/); eyeLook and tongueOut stay 0 (they move no skin of the face region).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    w = np.zeros((frames, len(ARKIT_CHANNELS)))

    def put(name: str, curve: np.ndarray) -> None:
        w[:, ARKIT_CHANNELS.index(name)] = np.clip(curve, 0.0, 1.0)

    syllable = 2 * np.pi * 4.3 * t + np.cumsum(rng.normal(scale=0.15, size=frames))
    jaw = 0.45 * np.maximum(np.sin(syllable), 0.0) ** 1.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t) ** 2)
    close = np.zeros(frames)
    for start in np.arange(int(0.4 * fps), frames - 3, int(0.7 * fps)):
        jaw[start : start + 3] = 0.08
        close[start : start + 3] = 0.08
    put("jawOpen", jaw)
    put("mouthClose", close)
    put("mouthPressLeft", 2.5 * close)
    put("mouthPressRight", 2.5 * close)
    put("mouthFunnel", _bumps(rng, t, 0.8, 0.08, 0.6))
    put("mouthPucker", _bumps(rng, t, 0.6, 0.08, 0.6))
    put("mouthLowerDownLeft", 0.6 * jaw + _bumps(rng, t, 0.5, 0.1, 0.3))
    put("mouthLowerDownRight", 0.6 * jaw + _bumps(rng, t, 0.5, 0.1, 0.3))
    put("mouthUpperUpLeft", _bumps(rng, t, 0.5, 0.1, 0.3))
    put("mouthUpperUpRight", _bumps(rng, t, 0.5, 0.1, 0.3))
    smile = _bumps(rng, t, 0.3, 0.6, 0.5)
    put("mouthSmileLeft", smile)
    put("mouthSmileRight", smile * 0.9)
    put("mouthStretchLeft", _bumps(rng, t, 0.4, 0.15, 0.3))
    put("mouthStretchRight", _bumps(rng, t, 0.4, 0.15, 0.3))
    put("mouthRollLower", _bumps(rng, t, 0.3, 0.08, 0.4))
    put("mouthShrugLower", _bumps(rng, t, 0.3, 0.1, 0.3))
    put("cheekSquintLeft", 0.5 * smile)
    put("cheekSquintRight", 0.5 * smile)
    brow = _bumps(rng, t, 0.4, 0.3, 0.6)
    put("browInnerUp", brow)
    put("browOuterUpLeft", 0.7 * brow)
    put("browOuterUpRight", 0.7 * brow)
    put("browDownLeft", _bumps(rng, t, 0.2, 0.3, 0.4))
    put("browDownRight", _bumps(rng, t, 0.2, 0.3, 0.4))
    blink = np.zeros(frames)
    for start in np.arange(int(1.0 * fps), frames - 4, int(3.1 * fps)):
        blink[start : start + 4] = (0.5, 1.0, 1.0, 0.5)
    put("eyeBlinkLeft", blink)
    put("eyeBlinkRight", blink)
    put("eyeSquintLeft", 0.3 * smile)
    put("eyeSquintRight", 0.3 * smile)
    put("noseSneerLeft", _bumps(rng, t, 0.15, 0.2, 0.3))
    put("noseSneerRight", _bumps(rng, t, 0.15, 0.2, 0.3))
    sealed = close > 0  # nothing else parts the lips while they are closed
    for k, name in enumerate(ARKIT_CHANNELS):
        if name.startswith("mouth") and not name.startswith(("mouthClose", "mouthPress")):
            w[sealed, k] = 0.0
    return w

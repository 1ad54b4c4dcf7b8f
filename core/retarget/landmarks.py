"""The 68 iBUG landmarks of a rig, its face region and its face size."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from core.errors import InputError
from core.retarget.geometry import component_of, triangles
from core.rig import FaceRig

IBUG_NAMES: tuple[str, ...] = tuple(f"ibug{k:02d}" for k in range(68))

# FLAME 2020/2023 vertex ids nearest to the 68-point static landmark embedding (0-based, iBUG order),
# from yunik1004/SAiD data/FLAME_landmarks.txt (the source of core.flame.FLAME_LANDMARKS too).
FLAME_IBUG68: tuple[int, ...] = (
    2210, 1963, 3056, 3424, 3423, 3421, 3419, 3416, 3414, 3635, 3643, 3646, 3650, 3652, 2004, 568, 728,
    2567, 337, 338, 3154, 3712, 3868, 2135, 27, 18, 1430,
    3560, 3561, 3501, 3564, 2751, 2793, 3556, 1676, 1623,
    2428, 2453, 2494, 3631, 2278, 2359, 3832, 1343, 1218, 1154, 995, 829,
    2820, 2864, 2774, 3543, 1657, 1749, 1703, 1774, 1802, 3503, 2905, 2881,
    2845, 2787, 3531, 1670, 1730, 1804, 3504, 2907,
)  # fmt: skip
FLAME_VERTICES = 5023

# registration weight of each iBUG point: the jaw outline is the least reliable across meshes
IBUG_WEIGHTS = np.array([0.3] * 17 + [1.0] * 51)
MOUTH_POINTS = np.arange(48, 68)
EYE_POINTS = np.arange(36, 48)
REGION_REACH = 0.8
"""Face region: skin within this many face sizes of the nearest landmark."""


def ibug68(rig: FaceRig) -> np.ndarray:
    """(68,) vertex indices of the iBUG landmarks: ``ibug00``.. on the rig, or FLAME's known ids."""
    if all(name in rig.landmarks for name in IBUG_NAMES):
        return np.array([rig.landmarks[n] for n in IBUG_NAMES])
    if rig.name == "flame" and rig.num_vertices == FLAME_VERTICES:
        return np.array(FLAME_IBUG68)
    raise InputError(
        f"rig '{rig.name}' has no 68 iBUG landmarks (ibug00..ibug67), so it cannot be retargeted; "
        "a FLAME rig needs FLAME's 5,023-vertex topology, a BFM rig its 68 'keypoints'"
    )


def face_size(points: np.ndarray) -> float:
    """RMS distance of the landmarks from their centroid (the unit that normalises identity scale)."""
    p = np.asarray(points, dtype=np.float64)
    return float(np.sqrt(np.mean(np.sum((p - p.mean(axis=0)) ** 2, axis=1))))


def face_region(rig: FaceRig, landmarks: np.ndarray, parts: tuple[str, ...] = ("skin",)) -> np.ndarray:
    """Boolean (V,) mask: the face around the landmarks, on the surface that carries the nose tip.

    Eyeballs, teeth and separate inner parts drop out (other connected pieces, or other ``parts``
    when the rig names them); so do the scalp, the back of the neck and the ears (too far from
    every landmark).
    """
    v = rig.vertices.astype(np.float64)
    tris = triangles(rig.faces)
    keep = np.zeros(rig.num_vertices, dtype=bool)
    keep[np.unique(tris)] = True
    if rig.vertex_parts is not None and rig.part_names:
        wanted = [rig.part_names.index(p) for p in parts if p in rig.part_names]
        keep &= np.isin(rig.vertex_parts, wanted)
        in_parts = keep[tris].all(axis=1)
        tris = tris[in_parts]
    keep &= component_of(rig.num_vertices, tris, int(landmarks[30])) if len(tris) else keep
    dist, _ = cKDTree(v[landmarks]).query(v)
    return keep & (dist <= REGION_REACH * face_size(v[landmarks]))

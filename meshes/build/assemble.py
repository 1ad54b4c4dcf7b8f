"""Put the skin and the inner parts together into one mesh with per-vertex tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from meshes.build import parts
from meshes.build.sdf import EYE_CENTER_L, EYE_RADIUS
from meshes.build.skin import Skin, build_skin

PART_NAMES = ["skin", "mouth_interior", "eye_L", "eye_R", "teeth_upper", "teeth_lower", "tongue"]


@dataclass
class Head:
    vertices: np.ndarray
    faces: np.ndarray  # (F,4), -1 in the last column for triangles
    parts: np.ndarray  # index into PART_NAMES
    region: np.ndarray  # skin tags (see Skin), -1 for inner parts
    ring: np.ndarray
    theta: np.ndarray
    updown: np.ndarray
    lower_copy: np.ndarray
    mirror: np.ndarray  # index of each vertex's mirror image across X = 0
    mouth_loop: list[int]
    eye_loops: dict[str, list[int]]

    def part_mask(self, *names: str) -> np.ndarray:
        return np.isin(self.parts, [PART_NAMES.index(n) for n in names])


def _inner_parts(skin: Skin) -> list[tuple[str, parts.Part]]:
    loop = skin.loops["mouth"]
    mid_edge = skin.vertices[loop[len(loop) // 4]]  # the upper lip edge at X = 0
    y0, zm = mid_edge[1], mid_edge[2]
    front_u = np.array([0.0, y0 + 0.0062, zm])
    front_l = np.array([0.0, y0 + 0.0094, zm])
    upper = parts.arch(
        front_u, 0.0225, 0.024, 0.0027,
        z_top=lambda s: zm + 0.0085 - 0.001 * s**2, z_bottom=lambda s: zm - 0.0012 + 0.0030 * s**2,
    )  # fmt: skip
    lower = parts.arch(
        front_l, 0.0200, 0.022, 0.0026,
        z_top=lambda s: zm + 0.0004 - 0.0016 * s**2, z_bottom=lambda s: zm - 0.0076 + 0.001 * s**2,
    )  # fmt: skip
    tongue = parts.uv_sphere((0.0, y0 + 0.0272, zm - 0.0058), (0.0138, 0.0138, 0.0042), 10, 16)
    eye_l = parts.uv_sphere(EYE_CENTER_L, (EYE_RADIUS,) * 3, 16, 24)
    eye_r = parts.uv_sphere(EYE_CENTER_L * np.array([-1.0, 1.0, 1.0]), (EYE_RADIUS,) * 3, 16, 24)
    return [("eye_L", eye_l), ("eye_R", eye_r), ("teeth_upper", upper), ("teeth_lower", lower), ("tongue", tongue)]


def _mirror_map(verts: np.ndarray, tag: np.ndarray) -> np.ndarray:
    """Each vertex's mirror across X = 0, matched on position plus a tag separating coincident copies."""
    key = np.concatenate([verts, tag[:, None].astype(float)], axis=1)
    flipped = key * np.array([-1.0, 1.0, 1.0, 1.0])
    dist, idx = cKDTree(key).query(flipped)
    if dist.max() > 1e-5:
        raise AssertionError(f"the head is not mirror-symmetric (worst mismatch {dist.max():.2e} m)")
    return idx


def build_mesh() -> Head:
    skin = build_skin()
    verts = [skin.vertices]
    faces = [np.asarray(skin.faces)]
    part = [np.where(skin.region == 4, 1, 0)]
    n = len(skin.vertices)
    for name, (pv, pf) in _inner_parts(skin):
        pf = parts.orient_outward(pv, pf)
        f = np.asarray(pf)
        faces.append(np.where(f >= 0, f + n, -1))
        verts.append(pv)
        part.append(np.full(len(pv), PART_NAMES.index(name)))
        n += len(pv)
    m = n - len(skin.vertices)
    vertices = np.concatenate(verts)
    tag = np.concatenate([skin.lower_copy, np.zeros(m, bool)])
    # symmetrise exactly: the +X half (and the midline) is the master copy
    mirror = _mirror_map(vertices, tag)
    src = vertices[:, 0] >= 0
    vertices[mirror[src]] = vertices[src] * np.array([-1.0, 1.0, 1.0])
    vertices[np.abs(vertices[:, 0]) < 1e-9, 0] = 0.0
    return Head(
        vertices=vertices,
        faces=np.concatenate(faces).astype(np.int32),
        parts=np.concatenate(part).astype(np.int32),
        region=np.concatenate([skin.region, np.full(m, -1)]),
        ring=np.concatenate([skin.ring, np.full(m, -99)]),
        theta=np.concatenate([skin.theta, np.zeros(m)]),
        updown=np.concatenate([skin.updown, np.zeros(m)]),
        lower_copy=tag,
        mirror=mirror,
        mouth_loop=skin.loops["mouth"],
        eye_loops={k: skin.loops[k] for k in ("eye_L", "eye_R")},
    )

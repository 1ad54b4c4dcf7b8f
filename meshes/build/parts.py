"""Separate inner parts: eyeballs, teeth arches and tongue, each a closed quad-dominant mesh."""

from __future__ import annotations

import itertools

import numpy as np

Part = tuple[np.ndarray, list[tuple[int, int, int, int]]]


def uv_sphere(center, radii, stacks: int, segments: int) -> Part:
    """A sphere with its poles on the -Y (front) and +Y axis, scaled by radii (x, y, z)."""
    alpha = np.pi * np.arange(1, stacks) / stacks
    beta = 2 * np.pi * np.arange(segments) / segments
    a, b = np.meshgrid(alpha, beta, indexing="ij")
    ring = np.stack([np.sin(a) * np.cos(b), -np.cos(a), np.sin(a) * np.sin(b)], axis=-1).reshape(-1, 3)
    unit = np.concatenate([[[0.0, -1.0, 0.0]], ring, [[0.0, 1.0, 0.0]]])
    verts = np.asarray(center) + unit * np.asarray(radii)
    front, back = 0, len(verts) - 1

    def rid(s: int, g: int) -> int:
        return 1 + s * segments + g % segments

    faces: list[tuple[int, int, int, int]] = []
    for g in range(segments):
        faces.append((front, rid(0, g + 1), rid(0, g), -1))
        faces.append((back, rid(stacks - 2, g), rid(stacks - 2, g + 1), -1))
        for s in range(stacks - 2):
            faces.append((rid(s, g), rid(s, g + 1), rid(s + 1, g + 1), rid(s + 1, g)))
    return verts, faces


def arch(front: np.ndarray, half_width: float, depth: float, thickness: float, z_top, z_bottom) -> Part:
    """A dental arch: a rounded-rectangle tube swept along a half-ellipse, capped at both ends.

    ``front`` is the middle of the arch's front face; z_top / z_bottom give the vertical extent as
    functions of the normalised arch position s in [-1, 1].
    """
    s = np.linspace(-1.0, 1.0, 25)
    psi = s * np.radians(78)
    path = np.stack([half_width * np.sin(psi), depth * (1 - np.cos(psi)), np.zeros_like(s)], axis=1)
    path[:, :2] += front[:2]  # heights come from z_top / z_bottom
    tangent = np.stack([half_width * np.cos(psi), depth * np.sin(psi), np.zeros_like(s)], axis=1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    inward = np.stack([-tangent[:, 1], tangent[:, 0], np.zeros_like(s)], axis=1)  # towards the tongue
    inward *= np.where(inward[:, 1:2] >= 0, 1.0, -1.0)
    # rounded rectangle cross-section in (inward, up), counter-clockwise seen along the tangent
    c = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    cu, cv = np.cos(c), np.sin(c)
    ex = np.sign(cu) * np.abs(cu) ** 0.35
    ey = np.sign(cv) * np.abs(cv) ** 0.35
    top, bottom = z_top(s), z_bottom(s)
    mid, half_h = 0.5 * (top + bottom), 0.5 * (top - bottom)
    verts = (
        path[:, None, :]
        + inward[:, None, :] * (0.5 * thickness * (1 - ex))[None, :, None]
        + np.array([0.0, 0.0, 1.0]) * (mid[:, None] + half_h[:, None] * ey[None, :])[..., None]
    ).reshape(-1, 3)
    n = len(c)
    faces: list[tuple[int, int, int, int]] = []
    for i in range(len(s) - 1):
        for j in range(n):
            a, b = i * n + j, i * n + (j + 1) % n
            faces.append((a, b, b + n, a + n))
    ends = []
    for i, flip in ((0, False), (len(s) - 1, True)):
        center = len(verts) + len(ends)
        ends.append(verts[i * n : (i + 1) * n].mean(axis=0))
        for j in range(n):
            a, b = i * n + j, i * n + (j + 1) % n
            faces.append((center, a, b, -1) if flip else (center, b, a, -1))
    return np.concatenate([verts, np.asarray(ends)]), faces


def orient_outward(verts: np.ndarray, faces: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Reverse every face of a closed part whose signed volume is negative."""
    vol = 0.0
    for f in faces:
        idx = [v for v in f if v >= 0]
        for a, b in itertools.pairwise(idx[1:]):
            vol += np.dot(verts[idx[0]], np.cross(verts[a], verts[b]))
    if vol >= 0:
        return faces
    return [tuple([*[v for v in f if v >= 0][::-1], *([-1] if f[3] < 0 else [])]) for f in faces]

"""The 68 iBUG landmarks on the built-in head (``ibug00``..``ibug67``), the points FLAME and BFM carry.

iBUG numbering is the subject's side: 0-16 the jaw line from the right ear to the left, 17-21 the
right brow (outer to inner), 22-26 the left brow, 27-30 the nose bridge down to the tip, 31-35 the
nostril base, 36-41 the right eye and 42-47 the left eye (clockwise from the outer/inner corner),
48-59 the outer lip contour and 60-67 the inner one. The character's left is +X here.
"""

from __future__ import annotations

import numpy as np

from meshes.build.assemble import Head
from meshes.build.skin import MOUTH

OUTER_LIP_RING = 5  # the mouth-block ring on the vermilion border
BROW_LIFT = 0.013  # metres from the upper lid margin up to the brow line


def _front_point(v: np.ndarray, cand: np.ndarray, x: float, z: float) -> int:
    """The front-most candidate vertex near (x, z) in the frontal plane."""
    d2 = (v[cand, 0] - x) ** 2 + (v[cand, 2] - z) ** 2
    near = cand[d2 <= d2.min() + 2e-6]
    return int(near[np.argmin(v[near, 1])])


def _by_x(v: np.ndarray, cand: np.ndarray, x: float) -> int:
    return int(cand[np.argmin(np.abs(v[cand, 0] - x))])


def _lid_points(v: np.ndarray, loop: list[int], outer_sign: float) -> list[int]:
    """[outer corner, upper 1/3, upper 2/3, inner corner, lower 2/3, lower 1/3] (from the outer corner)."""
    idx = np.asarray(loop)
    x = v[idx, 0] * outer_sign  # grows towards the outer corner
    outer, inner = int(idx[np.argmax(x)]), int(idx[np.argmin(x)])
    mid_z = 0.5 * (v[outer, 2] + v[inner, 2])
    upper, lower = idx[v[idx, 2] > mid_z + 1e-4], idx[v[idx, 2] < mid_z - 1e-4]
    lo, hi = v[inner, 0] * outer_sign, v[outer, 0] * outer_sign
    at = [lo + (hi - lo) * f for f in (2 / 3, 1 / 3)]
    up = [_by_x(v, upper, a * outer_sign) for a in at]
    dn = [_by_x(v, lower, a * outer_sign) for a in at]
    return [outer, up[0], up[1], inner, dn[1], dn[0]]


def ibug_landmarks(head: Head) -> dict[str, int]:
    """``ibugNN`` → vertex index for the 68 points."""
    v = head.vertices
    skin = head.part_mask("skin") & ~np.isin(head.region, (4, 5, 6))
    front = np.flatnonzero(skin & (v[:, 1] < -0.03))
    pts: list[int] = [0] * 68
    # mouth: inner loop (the lip edge) and the outer contour (vermilion border)
    loop = np.asarray(head.mouth_loop)
    m = MOUTH.half_len
    upper_in, lower_in = loop[: 2 * m + 1], np.concatenate([loop[2 * m :], loop[:1]])
    half_w = float(v[loop[0], 0])
    pts[60], pts[64] = int(loop[2 * m]), int(loop[0])
    pts[62], pts[66] = int(loop[m]), int(loop[3 * m])
    pts[61], pts[63] = _by_x(v, upper_in, -half_w / 2), _by_x(v, upper_in, half_w / 2)
    pts[65], pts[67] = _by_x(v, lower_in, half_w / 2), _by_x(v, lower_in, -half_w / 2)
    ring = np.flatnonzero((head.region == 1) & (head.ring == OUTER_LIP_RING) & head.part_mask("skin"))
    up, dn = ring[head.updown[ring] > 0], ring[head.updown[ring] < 0]
    w = float(np.abs(v[ring, 0]).max())
    pts[48], pts[54] = int(ring[np.argmin(v[ring, 0])]), int(ring[np.argmax(v[ring, 0])])
    for k, f in zip(range(49, 54), (-2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3), strict=True):
        pts[k] = _by_x(v, up, f * w)
    for k, f in zip(range(55, 60), (2 / 3, 1 / 3, 0.0, -1 / 3, -2 / 3), strict=True):
        pts[k] = _by_x(v, dn, f * w)
    # eyes: right (-X) from its outer corner clockwise; left from its inner corner clockwise
    right = _lid_points(v, head.eye_loops["eye_R"], -1.0)
    left = _lid_points(v, head.eye_loops["eye_L"], 1.0)
    pts[36:42] = right
    o, u1, u2, i, d2, d1 = left
    pts[42:48] = [i, u2, u1, o, d1, d2]
    # brows: an arch above each eye, from the outer end to the inner end (right brow first)
    for side, start in ((-1.0, 17), (1.0, 22)):
        eye = right if side < 0 else left
        top = max(v[eye[1], 2], v[eye[2], 2]) + BROW_LIFT
        x_in, x_out = v[eye[3], 0] - side * 0.004, v[eye[0], 0] + side * 0.006
        xs = np.linspace(x_out, x_in, 5) if side < 0 else np.linspace(x_in, x_out, 5)
        arch = 0.004 * np.sin(np.linspace(0, np.pi, 5))
        for k, (x, a) in enumerate(zip(xs, arch, strict=True)):
            pts[start + k] = _front_point(v, front, float(x), float(top + a - 0.003 * abs(x - xs.mean()) / 0.02))
    # nose: bridge from between the eyes to the tip, then the nostril base right to left
    tip = int(front[np.argmin(v[front, 1])])
    z_bridge = float(v[pts[39], 2])
    for k, z in zip(range(27, 30), np.linspace(z_bridge, v[tip, 2], 4)[:3], strict=True):
        pts[k] = _front_point(v, front, 0.0, float(z))
    pts[30] = tip
    z_base = float(v[tip, 2] - 0.014)
    for k, x in zip(range(31, 36), (-0.012, -0.006, 0.0, 0.006, 0.012), strict=True):
        pts[k] = _front_point(v, front, x, z_base + 0.002 * abs(x) / 0.012)
    # jaw line: from below the right ear round the chin to the left, on the face's outline
    chin = float(v[loop[3 * m], 2] - 0.027)
    top = float(v[pts[36], 2] - 0.012)
    width = 0.066
    for k, a in enumerate(np.linspace(-np.pi / 2, np.pi / 2, 17)):
        x = width * np.sin(a) * (0.95 if abs(a) > 1.2 else 1.0)
        z = chin + (top - chin) * (1 - np.cos(a)) ** 0.85
        pts[k] = _front_point(v, front, float(x), float(z))
    return {f"ibug{k:02d}": int(i) for k, i in enumerate(pts)}

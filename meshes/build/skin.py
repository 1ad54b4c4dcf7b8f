"""The skin surface: the slit grid ray-cast onto the head SDF, lids fitted over the eyeballs,
the mouth bag behind the lips and the lid margins tucked behind the eyelids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from meshes.build import grid
from meshes.build.grid import Slit, smoothstep
from meshes.build.sdf import EYE_CENTER_L, EYE_RADIUS, LID_RADIUS, raycast

MOUTH = Slit(
    name="mouth",
    center=(0.0, -0.095, 0.0998),
    half_len=10,
    rings=10,
    widths=(0.0245, 0.0252, 0.0260, 0.0268, 0.0277, 0.0290, 0.0308, 0.0332, 0.0362),
    heights_up=(0.0, 0.0016, 0.0034, 0.0053, 0.0074, 0.0098, 0.0126, 0.0158, 0.0195),
    heights_down=(0.0, 0.0016, 0.0034, 0.0053, 0.0073, 0.0095, 0.0120, 0.0150, 0.0185),
)
EYE = Slit(
    name="eye",
    center=tuple(EYE_CENTER_L),
    half_len=5,
    rings=6,
    widths=tuple(np.radians([57.0, 66.0, 75.0, 84.0, 95.0])),
    heights_up=tuple(np.radians([21.0, 29.0, 37.0, 47.0, 60.0])),
    heights_down=tuple(np.radians([17.0, 24.0, 31.0, 40.0, 52.0])),
    tilt=np.radians(3.0),
    sphere_radius=LID_RADIUS,
)
RELAX_STEPS = 12  # smoothing passes over the outer eye rings (the lid-to-brow fold)
LID_FIT = (1.0, 1.0, 0.7, 0.25, 0.05)  # share of the lid-sphere fit per eye ring
# mouth bag rings behind the lip edge: depth (+Y), upper and lower spread (Z), width scale
BAG_DEPTH = (0.0028, 0.0052, 0.014, 0.030, 0.042, 0.048)
BAG_UP = (0.0045, 0.0115, 0.0135, 0.0125, 0.0085, 0.0)
BAG_DOWN = (0.0025, 0.0075, 0.0110, 0.0115, 0.0090, 0.0)
BAG_WIDTH = (0.98, 1.02, 1.12, 1.15, 1.0, 0.8)


@dataclass
class Skin:
    """Skin vertices, faces and per-vertex tags used by the weights and shape keys."""

    vertices: np.ndarray
    faces: list[tuple[int, int, int, int]]
    region: np.ndarray  # 0 grid, 1 mouth block, 2 eye_L block, 3 eye_R block, 4 mouth bag, 5/6 lid tuck L/R
    ring: np.ndarray  # ring index inside a block (-1 outside), negative depth index for bag/tuck rings
    theta: np.ndarray  # loop angle inside a block / bag / tuck (left-side convention for eyes)
    updown: np.ndarray  # vertical loop coordinate in [-1, 1]: +1 above the slit (upper lip / lid), -1 below
    lower_copy: np.ndarray  # True for the lower-lip / lower-lid duplicates of slit vertices
    loops: dict[str, list[int]] = field(default_factory=dict)  # slit loops, counter-clockwise from +X


def _block_params(slit: Slit, di, dj, lower, mirror: bool, u_grid, phi_grid):
    """Ring index, loop angle, vertical loop coordinate, loop target point and blended ray parameters."""
    k, theta, q = grid.ring_coords(di, dj, slit.half_len, lower)
    target = grid.ring_target(slit, k, theta)
    if mirror:
        target[:, 0] *= -1
    u_t, phi_t = grid.to_param(target)
    w = smoothstep(k / slit.rings)
    return k, theta, q, target, (1 - w) * u_t + w * u_grid, (1 - w) * phi_t + w * phi_grid


def build_skin() -> Skin:
    """Grid with slits → ray-cast → lids on spheres → faces → mouth bag and lid tucks."""
    u = grid.azimuths()
    phi = grid.polar_angles()
    nu, nv = grid.N_AZIMUTH, grid.N_POLAR
    rows = np.arange(1, nv)
    jj, ii = np.meshgrid(rows, np.arange(nu), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    n_grid = ii.size

    def gid(i, j):
        return (j - 1) * nu + (i % nu)

    # block centres on grid vertices
    _, phi_m = grid.to_param(np.asarray(MOUTH.center))
    jm = int(np.argmin(np.abs(phi - phi_m)))
    u_e, phi_e = grid.to_param(np.asarray(EYE.center) + np.array([0.0, -LID_RADIUS, 0.0]))
    je = int(np.argmin(np.abs(phi - phi_e)))
    ie = int(np.argmin(np.abs(u[: nu // 2] - u_e)))
    blocks = [(MOUTH, 0, jm, 1, False), (EYE, ie, je, 2, False), (EYE, nu - ie, je, 3, True)]
    assert ie - EYE.half_len - EYE.rings > 0, "eye blocks overlap"
    assert je + EYE.rings < jm - MOUTH.rings, "eye and mouth blocks overlap"

    # vertices: grid, slit lower copies, poles
    param_u = u[ii].astype(float)
    param_phi = phi[jj].astype(float)
    region = np.zeros(n_grid, dtype=np.int32)
    ring = np.full(n_grid, -1, dtype=np.int32)
    theta = np.zeros(n_grid)
    updown = np.zeros(n_grid)
    lower = np.zeros(n_grid, dtype=bool)
    copy_of: list[int] = []
    copy_region: list[int] = []
    lower_id: dict[tuple[int, int], int] = {}
    for slit, ic, jc, reg, mirror in blocks:
        for d in range(-slit.half_len + 1, slit.half_len):  # d counts towards +X on the left, -X on the right
            lower_id[(reg, d)] = n_grid + len(copy_of)
            copy_of.append(gid(ic - d if mirror else ic + d, jc))
            copy_region.append(reg)
    copy_of_a = np.asarray(copy_of)
    param_u = np.concatenate([param_u, param_u[copy_of_a]])
    param_phi = np.concatenate([param_phi, param_phi[copy_of_a]])
    all_i = np.concatenate([ii, ii[copy_of_a]])
    all_j = np.concatenate([jj, jj[copy_of_a]])
    region = np.concatenate([region, np.zeros(len(copy_of), dtype=np.int32)])
    ring = np.concatenate([ring, np.full(len(copy_of), -1, dtype=np.int32)])
    theta = np.concatenate([theta, np.zeros(len(copy_of))])
    updown = np.concatenate([updown, np.zeros(len(copy_of))])
    lower = np.concatenate([lower, np.ones(len(copy_of), dtype=bool)])
    target = np.zeros((len(param_u), 3))
    copy_reg = np.concatenate([np.zeros(n_grid, dtype=np.int32), np.asarray(copy_region, dtype=np.int32)])
    for slit, ic, jc, reg, mirror in blocks:
        di = (all_i - ic + nu // 2) % nu - nu // 2
        if mirror:
            di = -di
        dj = jc - all_j
        inside = (np.maximum(np.abs(di) - slit.half_len, np.abs(dj)) <= slit.rings) & (~lower | (copy_reg == reg))
        k, th, q, tg, pu, pp = _block_params(
            slit, di[inside], dj[inside], lower[inside], mirror, param_u[inside], param_phi[inside]
        )
        region[inside], ring[inside], theta[inside], target[inside] = reg, k, th, tg
        updown[inside] = q
        param_u[inside], param_phi[inside] = pu, pp

    directions = grid.direction(param_u, param_phi)
    directions = np.concatenate([directions, [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    verts = raycast(grid.HEAD_CENTER, directions)
    top, bottom = len(verts) - 2, len(verts) - 1
    region = np.concatenate([region, [0, 0]])
    ring = np.concatenate([ring, [-1, -1]])
    theta = np.concatenate([theta, [0.0, 0.0]])
    updown = np.concatenate([updown, [0.0, 0.0]])
    lower = np.concatenate([lower, [False, False]])

    # faces
    def vid(i: int, j: int, below_slit: bool) -> int:
        if below_slit:
            for slit, ic, jc, reg, mirror in blocks:
                d = (i - ic + nu // 2) % nu - nu // 2
                if mirror:
                    d = -d
                if j == jc and abs(d) < slit.half_len:
                    return lower_id[(reg, d)]
        return gid(i, j)

    faces: list[tuple[int, int, int, int]] = []
    for j in range(1, nv - 1):
        for i in range(nu):
            faces.append((vid(i, j, True), vid(i, j + 1, False), vid(i + 1, j + 1, False), vid(i + 1, j, True)))
    for i in range(nu):
        faces.append((top, gid(i, 1), gid(i + 1, 1), -1))
        faces.append((bottom, gid(i + 1, nv - 1), gid(i, nv - 1), -1))

    # lay the lids on spheres around the eyeballs, relax the folds round the sockets, and keep all
    # skin clear of the eyeballs
    for reg, sign in ((2, 1.0), (3, -1.0)):
        center = EYE_CENTER_L * np.array([sign, 1.0, 1.0])
        for k, share in enumerate(LID_FIT):
            sel = np.flatnonzero((region == reg) & (ring == k))
            on_sphere = target[sel]
            front = -(on_sphere[:, 1] - center[1]) / LID_RADIUS
            if k > 2:  # the outer rings only where they face forwards, not round the sides
                share = share * smoothstep((front - 0.25) / 0.35)[:, None]
            verts[sel] = (1 - share) * verts[sel] + share * on_sphere
    verts = relax(verts, faces, np.isin(region, (2, 3)) & (ring >= 2) & (ring < EYE.rings), RELAX_STEPS)
    for sign in (1.0, -1.0):
        center = EYE_CENTER_L * np.array([sign, 1.0, 1.0])
        off = verts - center
        r = np.linalg.norm(off, axis=1)
        floor = EYE_RADIUS + 0.0005
        lifted = floor + 0.0006 * np.log1p(np.exp((r - floor) / 0.0006))  # smooth max(r, floor)
        near = r < floor + 0.006
        verts[near] = center + off[near] * (lifted[near] / r[near])[:, None]

    loops = {}
    for slit, ic, jc, reg, mirror in blocks:
        sgn = -1 if mirror else 1
        upper = [gid(ic + sgn * d, jc) for d in range(slit.half_len, -slit.half_len - 1, -1)]
        low = [lower_id[(reg, d)] for d in range(-slit.half_len + 1, slit.half_len)]
        loops[{1: "mouth", 2: "eye_L", 3: "eye_R"}[reg]] = upper + low
    skin = Skin(verts, faces, region, ring, theta, updown, lower, loops)
    _add_mouth_bag(skin)
    _add_lid_tucks(skin)
    return skin


def relax(verts: np.ndarray, faces: list[tuple[int, int, int, int]], movable: np.ndarray, steps: int) -> np.ndarray:
    """Laplacian smoothing of the movable vertices towards the mean of their edge neighbours."""
    f = np.asarray(faces)
    pairs = []
    for a in range(4):
        b = (a + 1) % 4
        ok = (f[:, a] >= 0) & (f[:, b] >= 0)
        pairs.append(f[ok][:, [a, b]])
    tri = f[:, 3] < 0
    pairs.append(f[tri][:, [2, 0]])
    e = np.concatenate(pairs)
    e = np.concatenate([e, e[:, ::-1]])
    n = len(verts)
    adj = sparse.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    adj.data[:] = 1.0
    mean = sparse.diags(1.0 / np.maximum(np.asarray(adj.sum(axis=1)).ravel(), 1)) @ adj
    out = verts.copy()
    for _ in range(steps):
        out[movable] += 0.5 * ((mean @ out)[movable] - out[movable])
    return out


def _append(skin: Skin, pts: np.ndarray, region: int, ring: int, theta: np.ndarray, lower: np.ndarray) -> list[int]:
    start = len(skin.vertices)
    skin.vertices = np.concatenate([skin.vertices, pts])
    skin.region = np.concatenate([skin.region, np.full(len(pts), region, dtype=np.int32)])
    skin.ring = np.concatenate([skin.ring, np.full(len(pts), ring, dtype=np.int32)])
    skin.theta = np.concatenate([skin.theta, theta])
    skin.updown = np.concatenate([skin.updown, np.sin(theta)])
    skin.lower_copy = np.concatenate([skin.lower_copy, lower])
    return list(range(start, start + len(pts)))


def _strip(skin: Skin, outer: list[int], inner: list[int], flip: bool = False) -> None:
    """Quads between two closed loops of equal length (counter-clockwise seen from the front)."""
    n = len(outer)
    for a in range(n):
        b = (a + 1) % n
        quad = (outer[a], outer[b], inner[b], inner[a])
        skin.faces.append(quad[::-1] if flip else quad)


def _add_mouth_bag(skin: Skin) -> None:
    """Rings behind the lip edge that close into a pouch (upper and lower halves merge at the back)."""
    loop = skin.loops["mouth"]
    edge = skin.vertices[loop]
    th = skin.theta[loop]
    s = np.sin(th)
    half = MOUTH.half_len
    prev = loop
    for r, (depth, up, down, wscale) in enumerate(zip(BAG_DEPTH, BAG_UP, BAG_DOWN, BAG_WIDTH, strict=True)):
        pts = edge.copy()
        pts[:, 0] *= wscale
        pts[:, 1] += depth
        pts[:, 2] += np.where(s >= 0, up, -down) * np.abs(s) ** 0.6
        if r < len(BAG_DEPTH) - 1:
            cur = _append(skin, pts, 4, -(r + 1), th, np.asarray(s < 0))
        else:  # last ring: lower half shares the upper half's vertices
            top = _append(skin, pts[: 2 * half + 1], 4, -(r + 1), th[: 2 * half + 1], np.zeros(2 * half + 1, bool))
            cur = top + top[1 : 2 * half][::-1]
        _strip(skin, prev, cur)
        prev = cur


def _add_lid_tucks(skin: Skin) -> None:
    """Lid margins with thickness, tucked under the lids behind the slit (open loops hidden by the eyes)."""
    for name, reg, sign in (("eye_L", 5, 1.0), ("eye_R", 6, -1.0)):
        loop = skin.loops[name]
        center = EYE_CENTER_L * np.array([sign, 1.0, 1.0])
        off = skin.vertices[loop] - center
        dirs = off / np.linalg.norm(off, axis=1, keepdims=True)
        th = skin.theta[loop]
        s = np.sin(th)
        margin = center + (EYE_RADIUS + 0.00035) * dirs
        inner = _append(skin, margin, reg, -1, th, np.asarray(s < 0))
        # rotate under the lid: upper lid up, lower lid down, about the eye's horizontal axis
        ang = 0.16 * np.sign(s) * np.abs(s) ** 0.5
        c, sn = np.cos(ang), np.sin(ang)
        y, z = dirs[:, 1], dirs[:, 2]
        tucked = np.stack([dirs[:, 0], c * y + sn * z, -sn * y + c * z], axis=1)
        tucked = center + (EYE_RADIUS + 0.00025) * tucked
        deep = _append(skin, tucked, reg, -2, th, np.asarray(s < 0))
        _strip(skin, loop, inner, flip=sign < 0)
        _strip(skin, inner, deep, flip=sign < 0)

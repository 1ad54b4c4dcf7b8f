"""Signed distance field of the mannequin head: smooth unions of simple primitives (metres, Z up, -Y front)."""

from __future__ import annotations

import itertools

import numpy as np

EYE_RADIUS = 0.0122
LID_RADIUS = EYE_RADIUS + 0.0011
EYE_CENTER_L = np.array([0.0315, -0.0625, 0.1765])


def _ellipsoid(p: np.ndarray, c, r) -> np.ndarray:
    """Approximate distance to an axis-aligned ellipsoid (the bound of Quilez, exact on the axes)."""
    q = (p - np.asarray(c)) / np.asarray(r)
    k0 = np.linalg.norm(q, axis=-1)
    k1 = np.linalg.norm(q / np.asarray(r), axis=-1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _sphere(p: np.ndarray, c, r: float) -> np.ndarray:
    return np.linalg.norm(p - np.asarray(c), axis=-1) - r


def _capsule(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    """Distance to a cone-like capsule with radius ra at a and rb at b (linear blend, a good bound)."""
    a, b = np.asarray(a), np.asarray(b)
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1) - (ra + (rb - ra) * t)


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Cubic smooth minimum (smooth union, curvature-continuous), blending about as wide as the
    quadratic one of radius k."""
    k = 1.6 * k
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h**3 * k / 6.0


def smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    return -smin(-a, -b, k)


def _mirror_x(p: np.ndarray) -> np.ndarray:
    """Fold the X axis so that one primitive serves both sides."""
    q = p.copy()
    q[..., 0] = np.abs(q[..., 0])
    return q


def head_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of the head and neck at points p (...,3)."""
    m = _mirror_x(p)
    d = _ellipsoid(p, (0.0, 0.010, 0.180), (0.0735, 0.0965, 0.095))  # cranium
    d = smin(d, _ellipsoid(p, (0.0, -0.028, 0.140), (0.060, 0.062, 0.070)), 0.020)  # mid-face
    d = smin(d, _ellipsoid(p, (0.0, -0.030, 0.100), (0.052, 0.060, 0.040)), 0.020)  # jaw body
    d = smin(d, _ellipsoid(m, (0.046, -0.004, 0.108), (0.012, 0.026, 0.030)), 0.014)  # jaw angles
    d = smin(d, _ellipsoid(p, (0.0, -0.0695, 0.073), (0.021, 0.021, 0.017)), 0.016)  # chin
    d = smin(d, _ellipsoid(p, (0.0, -0.058, 0.107), (0.037, 0.030, 0.029)), 0.022)  # muzzle
    d = smin(d, _ellipsoid(m, (0.046, -0.045, 0.150), (0.021, 0.023, 0.016)), 0.020)  # cheekbones
    d = smin(d, _ellipsoid(p, (0.0, -0.068, 0.192), (0.055, 0.020, 0.014)), 0.020)  # brow ridge
    # nose: bridge to tip, alae and columella
    nose = _capsule(p, (0.0, -0.082, 0.178), (0.0, -0.1025, 0.137), 0.0062, 0.0098)
    nose = smin(nose, _sphere(p, (0.0, -0.1032, 0.1345), 0.0101), 0.004)
    nose = smin(nose, _ellipsoid(m, (0.0113, -0.0925, 0.1292), (0.0074, 0.0084, 0.0060)), 0.0045)
    d = smin(d, nose, 0.007)
    # lips
    d = smin(d, _ellipsoid(p, (0.0, -0.0890, 0.1064), (0.0235, 0.0112, 0.0066)), 0.0035)
    d = smin(d, _ellipsoid(p, (0.0, -0.0872, 0.0928), (0.0205, 0.0118, 0.0075)), 0.003)
    # ears (simplified mannequin ears)
    d = smin(d, _ellipsoid(m, (0.0725, 0.010, 0.164), (0.010, 0.017, 0.029)), 0.010)
    # neck, cut flat at z = 0
    neck = _capsule(p, (0.0, 0.016, -0.10), (0.0, 0.010, 0.150), 0.0550, 0.0550)
    d = smin(d, neck, 0.028)
    d = smax(d, -p[..., 2], 0.004)
    # eye sockets and lids over the eyeballs
    d = smax(d, -_ellipsoid(m, EYE_CENTER_L + np.array([0.0, -0.0145, 0.0015]), (0.017, 0.0075, 0.0095)), 0.012)
    d = smin(d, _sphere(m, EYE_CENTER_L, LID_RADIUS), 0.004)
    return d


def raycast(
    origin: np.ndarray, directions: np.ndarray, t_min: float = 0.035, t_max: float = 0.195, iterations: int = 22
) -> np.ndarray:
    """First exit of rays from the inside: bisection on a sign change found by marching (N,3) → (N,3)."""
    n = directions.shape[0]
    steps = np.linspace(t_min, t_max, 65)
    inside_prev = np.ones(n, dtype=bool)
    lo = np.full(n, t_min)
    hi = np.full(n, t_max)
    found = np.zeros(n, dtype=bool)
    for a, b in itertools.pairwise(steps):
        inside = head_sdf(origin + b * directions) < 0.0
        hit = ~found & inside_prev & ~inside
        lo[hit], hi[hit] = a, b
        found |= hit
        inside_prev = inside
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        inside = head_sdf(origin + mid[:, None] * directions) < 0.0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return origin + (0.5 * (lo + hi))[:, None] * directions
